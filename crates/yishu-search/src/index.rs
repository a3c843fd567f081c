//! The index itself: schema, writes (one writer, committed per change) and queries (conjunction
//! of query words over weighted fields, filters, facet counts, highlighted snippets).

use crate::tokenizer::{self, JiebaTokenizer};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, TermQuery,
};
use tantivy::schema::{
    FAST, Facet, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term,
};
use yishu_meta::catalog::Resource;
use yishu_types::{Error, ErrorCode};

/// Facet dimensions a search can be filtered and counted by.
pub const DIMENSIONS: &[&str] = &[
    "provider", "class", "share", "open", "format", "cycle", "status",
];

/// Text fields searched, with their weight: a word in the name counts most.
const WEIGHTS: &[(&str, f32)] = &[
    ("name", 4.0),
    ("keywords", 2.5),
    ("items", 1.5),
    ("provider", 1.5),
    ("summary", 1.0),
    ("attachments", 0.5),
];

/// What the index stores about one resource.
#[derive(Debug, Clone, Default)]
pub struct ResourceDoc {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub summary: String,
    pub items: Vec<String>,
    pub keywords: Vec<String>,
    pub provider_id: i64,
    pub provider: String,
    pub class: String,
    pub share: String,
    pub open: String,
    pub format: String,
    pub cycle: String,
    pub status: String,
    /// Text extracted from attached documents (PDF, DOCX).
    pub attachments: String,
    /// The store's version and last change (Unix ms), to keep the index in step.
    pub version: i64,
    pub updated_at: i64,
}

impl ResourceDoc {
    pub fn from_resource(r: &Resource, provider: &str) -> Self {
        let m = &r.meta;
        ResourceDoc {
            id: r.id,
            code: r.code.clone(),
            name: m.name.clone(),
            summary: m.summary.clone(),
            items: m.items.iter().map(|i| i.name.clone()).collect(),
            keywords: m.extended.keywords.clone(),
            provider_id: m.provider_org_id.0,
            provider: provider.to_string(),
            class: m.class_kind.as_str().into(),
            share: m.share_type.as_str().into(),
            open: m.open_type.as_str().into(),
            format: m.format.as_str().into(),
            cycle: m.update_cycle.as_str().into(),
            status: r.status.as_str().into(),
            attachments: String::new(),
            version: r.version,
            updated_at: r.updated_at,
        }
    }

    fn facet_value(&self, dim: &str) -> String {
        match dim {
            "provider" => self.provider_id.to_string(),
            "class" => self.class.clone(),
            "share" => self.share.clone(),
            "open" => self.open.clone(),
            "format" => self.format.clone(),
            "cycle" => self.cycle.clone(),
            _ => self.status.clone(),
        }
    }
}

/// Which resources a searcher may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// The bureau (admins, data managers): everything.
    All,
    /// Everyone else: published and retired entries, plus every entry of their own org.
    Org(i64),
}

/// Exact-value filters, by facet dimension (see [`DIMENSIONS`]).
pub type Filters = BTreeMap<String, String>;

#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub text: String,
    pub filters: Filters,
    pub visibility: Visibility,
    pub limit: usize,
    pub offset: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Hit {
    pub id: i64,
    pub code: String,
    pub score: f32,
    /// Name with matched words in `<b>`; HTML-escaped.
    pub name_html: String,
    /// A fragment of the summary with matched words in `<b>`; HTML-escaped.
    pub summary_html: String,
    /// Item names that matched, highlighted; empty when none did.
    pub items_html: String,
    /// The entry's value in each facet dimension (provider id, class, share, …).
    pub facets: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    pub total: usize,
    pub hits: Vec<Hit>,
    /// Per dimension, the values among all matches with their counts, most frequent first.
    pub facets: BTreeMap<String, Vec<FacetCount>>,
    /// The words the query was cut into.
    pub words: Vec<String>,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    code: Field,
    name: Field,
    summary: Field,
    items: Field,
    keywords: Field,
    provider: Field,
    attachments: Field,
    provider_id: Field,
    facet: Field,
    version: Field,
}

/// Version of the schema below; an index on disk with another version is rebuilt.
const SCHEMA_VERSION: &str = "3";

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |stored: bool| {
        let o = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer::NAME)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored { o.set_stored() } else { o }
    };
    let f = Fields {
        id: b.add_u64_field("id", INDEXED | STORED | FAST),
        code: b.add_text_field("code", STRING | STORED),
        name: b.add_text_field("name", text(true)),
        summary: b.add_text_field("summary", text(true)),
        items: b.add_text_field("items", text(true)),
        keywords: b.add_text_field("keywords", text(false)),
        provider: b.add_text_field("provider", text(false)),
        attachments: b.add_text_field("attachments", text(false)),
        provider_id: b.add_u64_field("provider_id", INDEXED),
        facet: b.add_facet_field("facet", FacetOptions::default().set_stored()),
        version: b.add_u64_field("version", STORED),
    };
    (b.build(), f)
}

fn err(what: &str) -> impl FnOnce(tantivy::TantivyError) -> Error + '_ {
    move |e| Error::new(ErrorCode::SearchError, format!("search index: {what}: {e}"))
}

/// The catalog's search index. Cheap to query from many threads; writes are serialised.
pub struct SearchIndex {
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    f: Fields,
    /// The latest store change (`updated_at`, Unix ms) the index has seen; kept in the commit
    /// payload so a restarted node catches up from there.
    watermark: AtomicI64,
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it (empty) when missing or of an older schema. The
    /// caller rebuilds it when [`SearchIndex::is_empty`].
    pub fn open(dir: &Path) -> Result<Self, Error> {
        let (schema, f) = schema();
        let version_file = dir.join("yishu-schema-version");
        let current = std::fs::read_to_string(&version_file).ok();
        if current.as_deref() != Some(SCHEMA_VERSION) && dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| {
                Error::new(
                    ErrorCode::SearchError,
                    format!("search index: clear {}: {e}", dir.display()),
                )
            })?;
        }
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::new(
                ErrorCode::SearchError,
                format!("search index: create {}: {e}", dir.display()),
            )
        })?;
        let mmap = MmapDirectory::open(dir).map_err(|e| {
            Error::new(
                ErrorCode::SearchError,
                format!("search index: open {}: {e}", dir.display()),
            )
        })?;
        let index = Index::open_or_create(mmap, schema).map_err(err("open"))?;
        std::fs::write(&version_file, SCHEMA_VERSION).map_err(|e| {
            Error::new(
                ErrorCode::SearchError,
                format!("search index: write version: {e}"),
            )
        })?;
        Self::with_index(index, f)
    }

    /// An index that lives only in memory (tests, benchmarks).
    pub fn in_memory() -> Result<Self, Error> {
        let (schema, f) = schema();
        Self::with_index(Index::create_in_ram(schema), f)
    }

    fn with_index(index: Index, f: Fields) -> Result<Self, Error> {
        index.tokenizers().register(tokenizer::NAME, JiebaTokenizer);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(err("open a reader"))?;
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4);
        let writer = index
            .writer_with_num_threads(threads, threads * 40_000_000)
            .map_err(err("open the writer"))?;
        let watermark = index
            .load_metas()
            .ok()
            .and_then(|m| m.payload)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        Ok(SearchIndex {
            reader,
            writer: Mutex::new(writer),
            f,
            watermark: AtomicI64::new(watermark),
        })
    }

    /// Number of resources in the index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn document(&self, d: &ResourceDoc) -> TantivyDocument {
        let f = &self.f;
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.id, d.id as u64);
        doc.add_text(f.code, &d.code);
        doc.add_text(f.name, &d.name);
        doc.add_text(f.summary, &d.summary);
        doc.add_text(f.items, d.items.join("、"));
        doc.add_text(f.keywords, d.keywords.join(" "));
        doc.add_text(f.provider, &d.provider);
        doc.add_text(f.attachments, &d.attachments);
        doc.add_u64(f.provider_id, d.provider_id as u64);
        doc.add_u64(f.version, d.version as u64);
        for dim in DIMENSIONS {
            doc.add_facet(
                f.facet,
                Facet::from_path([*dim, d.facet_value(dim).as_str()]),
            );
        }
        doc
    }

    fn commit(&self, w: &mut IndexWriter, seen: i64) -> Result<(), Error> {
        let mark = self.watermark.fetch_max(seen, Ordering::SeqCst).max(seen);
        let mut prepared = w.prepare_commit().map_err(err("commit"))?;
        prepared.set_payload(&mark.to_string());
        prepared.commit().map_err(err("commit"))?;
        self.reader.reload().map_err(err("reload"))
    }

    /// The latest store change the index has taken in (Unix ms).
    pub fn watermark(&self) -> i64 {
        self.watermark.load(Ordering::SeqCst)
    }

    /// The store version of resource `id` as indexed, if it is.
    pub fn indexed_version(&self, id: i64) -> Option<i64> {
        let searcher = self.reader.searcher();
        let q = TermQuery::new(
            Term::from_field_u64(self.f.id, id as u64),
            IndexRecordOption::Basic,
        );
        let top = searcher
            .search(&q, &TopDocs::with_limit(1).order_by_score())
            .ok()?;
        let (_, addr) = top.first()?;
        let doc: TantivyDocument = searcher.doc(*addr).ok()?;
        doc.get_first(self.f.version)
            .and_then(|v| v.as_u64())
            .map(|v| v as i64)
    }

    /// Adds or replaces one resource; visible to searches when this returns.
    pub fn upsert(&self, d: &ResourceDoc) -> Result<(), Error> {
        self.upsert_many(std::slice::from_ref(d))
    }

    /// Adds or replaces resources in one commit.
    pub fn upsert_many(&self, docs: &[ResourceDoc]) -> Result<(), Error> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut seen = 0;
        for d in docs {
            w.delete_term(Term::from_field_u64(self.f.id, d.id as u64));
            w.add_document(self.document(d)).map_err(err("add"))?;
            seen = seen.max(d.updated_at);
        }
        self.commit(&mut w, seen)
    }

    /// Drops one resource.
    pub fn remove(&self, id: i64) -> Result<(), Error> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.delete_term(Term::from_field_u64(self.f.id, id as u64));
        self.commit(&mut w, 0)
    }

    /// Replaces everything with `docs` in one commit; returns how many were indexed.
    pub fn replace_all<'a>(
        &self,
        docs: impl Iterator<Item = &'a ResourceDoc>,
    ) -> Result<usize, Error> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.delete_all_documents().map_err(err("clear"))?;
        let (mut n, mut seen) = (0, 0);
        for d in docs {
            w.add_document(self.document(d)).map_err(err("add"))?;
            n += 1;
            seen = seen.max(d.updated_at);
        }
        self.commit(&mut w, seen)?;
        Ok(n)
    }

    fn facet_term(&self, dim: &str, value: &str) -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_facet(self.f.facet, &Facet::from_path([dim, value])),
            IndexRecordOption::Basic,
        ))
    }

    /// The words part: every word must match in some field; fields weigh differently. A query
    /// that is exactly a resource code also matches that code.
    fn text_query(&self, text: &str, words: &[String]) -> Option<Box<dyn Query>> {
        if words.is_empty() {
            return None;
        }
        let fields = [
            self.f.name,
            self.f.keywords,
            self.f.items,
            self.f.provider,
            self.f.summary,
            self.f.attachments,
        ];
        let per_word: Vec<(Occur, Box<dyn Query>)> = words
            .iter()
            .map(|w| {
                let alternatives: Vec<(Occur, Box<dyn Query>)> = fields
                    .iter()
                    .zip(WEIGHTS)
                    .map(|(field, (_, weight))| {
                        let q = TermQuery::new(
                            Term::from_field_text(*field, w),
                            IndexRecordOption::WithFreqs,
                        );
                        (
                            Occur::Should,
                            Box::new(BoostQuery::new(Box::new(q), *weight)) as Box<dyn Query>,
                        )
                    })
                    .collect();
                (
                    Occur::Must,
                    Box::new(BooleanQuery::new(alternatives)) as Box<dyn Query>,
                )
            })
            .collect();
        let words_q: Box<dyn Query> = Box::new(BooleanQuery::new(per_word));
        let code = text.trim();
        Some(Box::new(BooleanQuery::new(vec![
            (Occur::Should, words_q),
            (
                Occur::Should,
                Box::new(BoostQuery::new(
                    Box::new(TermQuery::new(
                        Term::from_field_text(self.f.code, code),
                        IndexRecordOption::Basic,
                    )),
                    10.0,
                )),
            ),
        ])))
    }

    /// Runs a search: ranked, filtered, counted by facet, highlighted.
    pub fn search(&self, q: &SearchQuery) -> Result<SearchResults, Error> {
        for dim in q.filters.keys() {
            if !DIMENSIONS.contains(&dim.as_str()) {
                return Err(Error::field(
                    dim,
                    format!("not a search filter; use one of {}", DIMENSIONS.join(", ")),
                ));
            }
        }
        let words = tokenizer::query_words(&q.text);
        let text_q = self.text_query(&q.text, &words);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let scored = text_q.is_some();
        if let Some(t) = text_q.as_ref().map(|t| t.box_clone()) {
            clauses.push((Occur::Must, t));
        }
        for (dim, value) in &q.filters {
            clauses.push((
                Occur::Must,
                Box::new(ConstScoreQuery::new(self.facet_term(dim, value), 0.0)),
            ));
        }
        if let Visibility::Org(org) = q.visibility {
            let allowed = BooleanQuery::new(vec![
                (Occur::Should, self.facet_term("status", "published")),
                (Occur::Should, self.facet_term("status", "retired")),
                (
                    Occur::Should,
                    Box::new(TermQuery::new(
                        Term::from_field_u64(self.f.provider_id, org as u64),
                        IndexRecordOption::Basic,
                    )),
                ),
            ]);
            clauses.push((
                Occur::Must,
                Box::new(ConstScoreQuery::new(Box::new(allowed), 0.0)),
            ));
        }
        let query: Box<dyn Query> = if clauses.is_empty() {
            Box::new(AllQuery)
        } else {
            Box::new(BooleanQuery::new(clauses))
        };

        let searcher = self.reader.searcher();
        let mut facets = FacetCollector::for_field("facet");
        for dim in DIMENSIONS {
            facets.add_facet(Facet::from_path([*dim]));
        }
        let limit = q.limit.clamp(1, 200);
        let top = TopDocs::with_limit(limit).and_offset(q.offset);
        let (addrs, total, counts): (Vec<(f32, DocAddress)>, usize, _) = if scored {
            searcher
                .search(&query, &(top.order_by_score(), Count, facets))
                .map_err(err("search"))?
        } else {
            // Without words, newest entries first.
            let (docs, total, counts) = searcher
                .search(
                    &query,
                    &(top.order_by_u64_field("id", Order::Desc), Count, facets),
                )
                .map_err(err("search"))?;
            (
                docs.into_iter().map(|(_, a)| (0.0, a)).collect(),
                total,
                counts,
            )
        };

        let mut facet_out = BTreeMap::new();
        for dim in DIMENSIONS {
            let mut values: Vec<FacetCount> = counts
                .get(Facet::from_path([*dim]))
                .map(|(facet, count)| FacetCount {
                    value: facet
                        .to_path()
                        .last()
                        .copied()
                        .unwrap_or_default()
                        .to_string(),
                    count,
                })
                .collect();
            values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            facet_out.insert(dim.to_string(), values);
        }

        let snippets = match &text_q {
            Some(t) => Some((
                self.snippets(&searcher, t.as_ref(), self.f.name, 200)?,
                self.snippets(&searcher, t.as_ref(), self.f.summary, 120)?,
                self.snippets(&searcher, t.as_ref(), self.f.items, 120)?,
            )),
            None => None,
        };
        let mut hits = Vec::with_capacity(addrs.len());
        for (score, addr) in addrs {
            let doc: TantivyDocument = searcher.doc(addr).map_err(err("read a document"))?;
            let text = |field: Field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            let (name_html, summary_html, items_html) = match &snippets {
                Some((name, summary, items)) => {
                    let n = name.snippet_from_doc(&doc);
                    let s = summary.snippet_from_doc(&doc);
                    let i = items.snippet_from_doc(&doc);
                    (
                        if n.is_empty() {
                            escape(&text(self.f.name))
                        } else {
                            n.to_html()
                        },
                        if s.is_empty() {
                            escape(&prefix(&text(self.f.summary), 120))
                        } else {
                            s.to_html()
                        },
                        if i.highlighted().is_empty() {
                            String::new()
                        } else {
                            i.to_html()
                        },
                    )
                }
                None => (
                    escape(&text(self.f.name)),
                    escape(&prefix(&text(self.f.summary), 120)),
                    String::new(),
                ),
            };
            hits.push(Hit {
                id: doc
                    .get_first(self.f.id)
                    .and_then(|v| v.as_u64())
                    .unwrap_or_default() as i64,
                code: text(self.f.code),
                score,
                name_html,
                summary_html,
                items_html,
                facets: doc
                    .get_all(self.f.facet)
                    .filter_map(|v| v.as_facet())
                    .filter_map(|enc| Facet::from_encoded(enc.as_bytes().to_vec()).ok())
                    .filter_map(|f| match f.to_path().as_slice() {
                        [dim, value] => Some((dim.to_string(), value.to_string())),
                        _ => None,
                    })
                    .collect(),
            });
        }
        Ok(SearchResults {
            total,
            hits,
            facets: facet_out,
            words,
        })
    }

    fn snippets(
        &self,
        searcher: &tantivy::Searcher,
        query: &dyn Query,
        field: Field,
        chars: usize,
    ) -> Result<SnippetGenerator, Error> {
        let mut g = SnippetGenerator::create(searcher, query, field).map_err(err("highlight"))?;
        g.set_max_num_chars(chars);
        Ok(g)
    }
}

fn prefix(s: &str, chars: usize) -> String {
    match s.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
