//! The open catalog as DCAT-AP 3 (R33): what national portals and European-style harvesters
//! read — a `dcat:Catalog` paged 100 datasets at a time with hydra links, each `dcat:Dataset`
//! with its publisher (`foaf:Agent`), contact, keywords, frequency and one `dcat:Distribution`
//! per download format — in Turtle, JSON-LD or RDF/XML, written by oxigraph's serializers.

use crate::app::open::{Catalog, FORMATS, org_slug, slug};
use oxrdf::vocab::{rdf, xsd};
use oxrdf::{Literal, NamedNode, Triple};
use oxrdfio::{JsonLdProfileSet, RdfFormat, RdfSerializer};
use yishu_meta::catalog::{Resource, UpdateCycle};
use yishu_types::{Error, ErrorCode};

/// Datasets one catalog page holds.
pub const PAGE: usize = 100;

const DCAT: &str = "http://www.w3.org/ns/dcat#";
const DCT: &str = "http://purl.org/dc/terms/";
const FOAF: &str = "http://xmlns.com/foaf/0.1/";
const VCARD: &str = "http://www.w3.org/2006/vcard/ns#";
const HYDRA: &str = "http://www.w3.org/ns/hydra/core#";
const EU: &str = "http://publications.europa.eu/resource/authority/";

/// The serialisations, by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Turtle,
    JsonLd,
    RdfXml,
}

impl Syntax {
    pub fn from_extension(ext: &str) -> Option<Syntax> {
        match ext {
            "ttl" => Some(Syntax::Turtle),
            "jsonld" => Some(Syntax::JsonLd),
            "rdf" | "xml" => Some(Syntax::RdfXml),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Syntax::Turtle => "text/turtle; charset=utf-8",
            Syntax::JsonLd => "application/ld+json",
            Syntax::RdfXml => "application/rdf+xml",
        }
    }

    fn format(self) -> RdfFormat {
        match self {
            Syntax::Turtle => RdfFormat::Turtle,
            Syntax::JsonLd => RdfFormat::JsonLd {
                profile: JsonLdProfileSet::empty(),
            },
            Syntax::RdfXml => RdfFormat::RdfXml,
        }
    }
}

fn iri(s: impl Into<String>) -> NamedNode {
    // Every address here is built from the configured base and slugs of ASCII codes.
    NamedNode::new_unchecked(s.into())
}

fn term(ns: &str, local: &str) -> NamedNode {
    iri(format!("{ns}{local}"))
}

fn zh(text: &str) -> Literal {
    Literal::new_language_tagged_literal_unchecked(text, "zh")
}

fn when(ms: i64) -> Literal {
    let text = chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    Literal::new_typed_literal(text, xsd::DATE_TIME)
}

/// The EU frequency authority's term for an update cycle.
fn frequency(c: UpdateCycle) -> &'static str {
    match c {
        UpdateCycle::Realtime => "UPDATE_CONT",
        UpdateCycle::Daily => "DAILY",
        UpdateCycle::Weekly => "WEEKLY",
        UpdateCycle::Monthly => "MONTHLY",
        UpdateCycle::Quarterly => "QUARTERLY",
        UpdateCycle::HalfYearly => "ANNUAL_2",
        UpdateCycle::Yearly => "ANNUAL",
        UpdateCycle::Irregular => "IRREG",
    }
}

/// The EU file type and IANA media type of a download format.
fn file_type(f: &str) -> (&'static str, &'static str) {
    match f {
        "CSV" => ("CSV", "text/csv"),
        "XLSX" => (
            "XLSX",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        "JSON" => ("JSON", "application/json"),
        _ => ("PARQUET", "application/vnd.apache.parquet"),
    }
}

/// Triples being gathered for one answer.
struct Graph {
    triples: Vec<Triple>,
}

impl Graph {
    fn add(&mut self, s: &NamedNode, p: NamedNode, o: impl Into<oxrdf::Term>) {
        self.triples.push(Triple::new(s.clone(), p, o));
    }

    /// The department as a `foaf:Agent`.
    fn agent(&mut self, base: &str, c: &Catalog, r: &Resource) -> Option<NamedNode> {
        let o = c.orgs.get(&r.meta.provider_org_id)?;
        let node = iri(format!("{base}/open/orgs/{}", org_slug(o)));
        self.add(&node, rdf::TYPE.into(), term(FOAF, "Agent"));
        self.add(&node, term(FOAF, "name"), zh(&o.name));
        self.add(
            &node,
            term(DCT, "type"),
            iri("http://purl.org/adms/publishertype/LocalAuthority"),
        );
        Some(node)
    }

    /// A dataset with its publisher, contact and distributions.
    fn dataset(&mut self, base: &str, c: &Catalog, r: &Resource, license: &str) -> NamedNode {
        let name = slug(&r.code);
        let node = iri(format!("{base}/dataset/{name}"));
        self.add(&node, rdf::TYPE.into(), term(DCAT, "Dataset"));
        self.add(&node, term(DCT, "title"), zh(&r.meta.name));
        let description = if r.meta.summary.trim().is_empty() {
            &r.meta.name
        } else {
            &r.meta.summary
        };
        self.add(&node, term(DCT, "description"), zh(description));
        self.add(
            &node,
            term(DCT, "identifier"),
            Literal::from(r.code.as_str()),
        );
        let opened = c.openings.get(&r.id).map_or(r.created_at, |o| o.opened_at);
        self.add(&node, term(DCT, "issued"), when(opened));
        self.add(&node, term(DCT, "modified"), when(c.modified(r)));
        self.add(
            &node,
            term(DCAT, "landingPage"),
            iri(format!("{base}/open/datasets/{name}")),
        );
        self.add(
            &node,
            term(DCT, "accrualPeriodicity"),
            iri(format!("{EU}frequency/{}", frequency(r.meta.update_cycle))),
        );
        self.add(
            &node,
            term(DCT, "language"),
            iri(format!("{EU}language/ZHO")),
        );
        for k in &r.meta.extended.keywords {
            self.add(&node, term(DCAT, "keyword"), zh(k));
        }
        if let Some(agent) = self.agent(base, c, r) {
            self.add(&node, term(DCT, "publisher"), agent);
        }
        let contact = iri(format!("{base}/dataset/{name}#contact"));
        self.add(&node, term(DCAT, "contactPoint"), contact.clone());
        self.add(&contact, rdf::TYPE.into(), term(VCARD, "Kind"));
        let who = if r.meta.extended.contact.trim().is_empty() {
            c.orgs
                .get(&r.meta.provider_org_id)
                .map(|o| o.name.clone())
                .unwrap_or_default()
        } else {
            r.meta.extended.contact.clone()
        };
        self.add(&contact, term(VCARD, "fn"), zh(&who));
        for f in FORMATS {
            let ext = f.to_ascii_lowercase();
            let d = iri(format!("{base}/dataset/{name}/{ext}"));
            let url = iri(format!("{base}/open/datasets/{name}/download.{ext}"));
            let (eu, media) = file_type(f);
            self.add(&node, term(DCAT, "distribution"), d.clone());
            self.add(&d, rdf::TYPE.into(), term(DCAT, "Distribution"));
            self.add(
                &d,
                term(DCT, "title"),
                zh(&format!("{}（{f}）", r.meta.name)),
            );
            self.add(
                &d,
                term(DCT, "description"),
                zh(&format!("{}，{f} 格式下载", r.meta.name)),
            );
            self.add(&d, term(DCAT, "accessURL"), url.clone());
            self.add(&d, term(DCAT, "downloadURL"), url);
            self.add(&d, term(DCT, "format"), iri(format!("{EU}file-type/{eu}")));
            self.add(
                &d,
                term(DCAT, "mediaType"),
                iri(format!(
                    "http://www.iana.org/assignments/media-types/{media}"
                )),
            );
            self.add(&d, term(DCT, "license"), iri(license));
            self.add(&d, term(DCT, "modified"), when(c.modified(r)));
        }
        node
    }

    fn write(self, syntax: Syntax) -> Result<Vec<u8>, Error> {
        let failed = |e: std::io::Error| {
            Error::new(
                ErrorCode::Internal,
                format!("cannot write the catalog: {e}"),
            )
        };
        let mut ser = RdfSerializer::from_format(syntax.format());
        for (p, ns) in [
            ("dcat", DCAT),
            ("dct", DCT),
            ("foaf", FOAF),
            ("vcard", VCARD),
            ("hydra", HYDRA),
            ("xsd", "http://www.w3.org/2001/XMLSchema#"),
        ] {
            ser = ser
                .with_prefix(p, ns)
                .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
        }
        let mut w = ser.for_writer(Vec::new());
        for t in &self.triples {
            w.serialize_triple(t).map_err(failed)?;
        }
        w.finish().map_err(failed)
    }
}

/// What a catalog page asks.
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    /// From 1.
    pub page: usize,
    /// Only datasets changed at or after this time (ms).
    pub modified_since: Option<i64>,
}

/// Parses `modified_since`: a date or an RFC 3339 time.
pub fn parse_since(text: &str) -> Result<i64, Error> {
    let t = text.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(d.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map(|x| x.and_utc().timestamp_millis())
            .unwrap_or_default());
    }
    Err(Error::field(
        "modified_since",
        format!("'{t}' is not a date (2026-01-31) or a time (2026-01-31T08:00:00Z)"),
    ))
}

/// One page of the catalog at `base`, its datasets and the hydra view linking the pages.
pub fn catalog_page(
    c: &Catalog,
    base: &str,
    license: &str,
    q: &PageQuery,
    syntax: Syntax,
) -> Result<Vec<u8>, Error> {
    let mut g = Graph {
        triples: Vec::new(),
    };
    let ext = match syntax {
        Syntax::Turtle => "ttl",
        Syntax::JsonLd => "jsonld",
        Syntax::RdfXml => "rdf",
    };
    let node = iri(format!("{base}/catalog"));
    g.add(&node, rdf::TYPE.into(), term(DCAT, "Catalog"));
    g.add(&node, term(DCT, "title"), zh("公共数据开放目录"));
    g.add(
        &node,
        term(DCT, "description"),
        zh("各部门依法开放的公共数据集，经脱敏处理，提供 CSV、XLSX、JSON、Parquet 下载与开放接口"),
    );
    g.add(&node, term(FOAF, "homepage"), iri(format!("{base}/")));
    g.add(
        &node,
        term(DCT, "language"),
        iri(format!("{EU}language/ZHO")),
    );
    g.add(&node, term(DCT, "license"), iri(license));
    let publisher = iri(format!("{base}/#publisher"));
    g.add(&node, term(DCT, "publisher"), publisher.clone());
    g.add(&publisher, rdf::TYPE.into(), term(FOAF, "Agent"));
    g.add(&publisher, term(FOAF, "name"), zh("公共数据开放门户"));
    g.add(
        &publisher,
        term(DCT, "type"),
        iri("http://purl.org/adms/publishertype/LocalAuthority"),
    );
    let mut datasets: Vec<&Resource> = c
        .datasets
        .iter()
        .filter(|r| q.modified_since.is_none_or(|t| c.modified(r) >= t))
        .map(|r| &**r)
        .collect();
    datasets.sort_by_key(|r| r.id);
    if let Some(newest) = datasets.iter().map(|r| c.modified(r)).max() {
        g.add(&node, term(DCT, "modified"), when(newest));
    }
    let total = datasets.len();
    let last = total.div_ceil(PAGE).max(1);
    let page = q.page.max(1);
    for r in datasets.iter().skip((page - 1) * PAGE).take(PAGE) {
        let d = g.dataset(base, c, r, license);
        g.add(&node, term(DCAT, "dataset"), d);
    }
    let since = q
        .modified_since
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|d| {
            format!(
                "&modified_since={}",
                d.format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string()
                    .replace(':', "%3A")
            )
        })
        .unwrap_or_default();
    let at = |p: usize| iri(format!("{base}/catalog.{ext}?page={p}{since}"));
    let view = at(page);
    g.add(
        &view,
        rdf::TYPE.into(),
        term(HYDRA, "PartialCollectionView"),
    );
    g.add(&view, term(HYDRA, "first"), at(1));
    g.add(&view, term(HYDRA, "last"), at(last));
    if page > 1 {
        g.add(&view, term(HYDRA, "previous"), at(page - 1));
    }
    if page < last {
        g.add(&view, term(HYDRA, "next"), at(page + 1));
    }
    g.add(
        &view,
        term(HYDRA, "totalItems"),
        Literal::new_typed_literal(total.to_string(), xsd::INTEGER),
    );
    g.add(
        &view,
        term(HYDRA, "itemsPerPage"),
        Literal::new_typed_literal(PAGE.to_string(), xsd::INTEGER),
    );
    g.write(syntax)
}

/// One dataset's description.
pub fn dataset(
    c: &Catalog,
    r: &Resource,
    base: &str,
    license: &str,
    syntax: Syntax,
) -> Result<Vec<u8>, Error> {
    let mut g = Graph {
        triples: Vec::new(),
    };
    g.dataset(base, c, r, license);
    g.write(syntax)
}
