//! A tantivy tokenizer over jieba (结巴分词). Documents are cut in search mode (whole words plus
//! their dictionary sub-words, so "常住人口" is found by "人口"); queries are cut in default
//! mode. ASCII is lower-cased; punctuation and white space are dropped.

use jieba_rs::{Jieba, TokenizeMode};
use std::sync::LazyLock;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// The dictionary is compiled into the binary (no download); building it takes ~0.2 s, once.
static JIEBA: LazyLock<Jieba> = LazyLock::new(Jieba::new);

/// Name under which the tokenizer is registered with an index.
pub const NAME: &str = "jieba";

#[derive(Clone, Default)]
pub struct JiebaTokenizer;

/// Tokens of one text, computed eagerly (jieba works on whole sentences).
pub struct JiebaStream {
    tokens: Vec<Token>,
    next: usize,
}

/// Whether a piece of text carries meaning (not only punctuation or white space).
fn is_word(w: &str) -> bool {
    w.chars().any(char::is_alphanumeric)
}

/// Cuts `text` into terms the way the index stores them; also used to build queries.
pub fn terms(text: &str, mode: TokenizeMode) -> Vec<(String, std::ops::Range<usize>)> {
    let base = text.as_ptr() as usize;
    JIEBA
        .tokenize(text, mode, true)
        .into_iter()
        .filter(|t| is_word(t.word))
        .map(|t| {
            // Words are slices of `text`, so their byte offsets follow from the pointers.
            let from = t.word.as_ptr() as usize - base;
            (t.word.to_lowercase(), from..from + t.word.len())
        })
        .collect()
}

/// Cuts a query into the distinct words a user meant.
pub fn query_words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (w, _) in terms(text, TokenizeMode::Default) {
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

impl Tokenizer for JiebaTokenizer {
    type TokenStream<'a> = JiebaStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> JiebaStream {
        let mut terms = terms(text, TokenizeMode::Search);
        // Search mode emits a word's sub-words before the word itself; tantivy's highlighter
        // needs tokens in the order they start.
        terms.sort_by_key(|(_, r)| (r.start, r.end));
        let tokens = terms
            .into_iter()
            .enumerate()
            .map(|(position, (text, range))| Token {
                offset_from: range.start,
                offset_to: range.end,
                position,
                text,
                position_length: 1,
            })
            .collect();
        JiebaStream { tokens, next: 0 }
    }
}

impl TokenStream for JiebaStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_chinese_and_keeps_sub_words() {
        let mut t = JiebaTokenizer;
        let mut s = t.token_stream("成都市常住人口, Population 2024");
        let mut got = Vec::new();
        while s.advance() {
            got.push(s.token().text.clone());
        }
        assert!(got.contains(&"人口".to_string()), "{got:?}");
        assert!(got.contains(&"population".to_string()), "{got:?}");
        assert!(
            !got.iter().any(|w| w.trim().is_empty() || w == ","),
            "{got:?}"
        );
        let text = "成都市常住人口, Population 2024";
        let mut s = t.token_stream(text);
        while s.advance() {
            let tok = s.token();
            assert_eq!(
                text[tok.offset_from..tok.offset_to].to_lowercase(),
                tok.text
            );
        }
    }

    #[test]
    fn tokens_come_in_text_order() {
        let mut t = JiebaTokenizer;
        let mut s = t.token_stream("不动产单元号、中华人民共和国居民身份证");
        let mut last = 0;
        while s.advance() {
            assert!(s.token().offset_from >= last, "{:?}", s.token());
            last = s.token().offset_from;
        }
    }

    #[test]
    fn query_words_are_distinct() {
        assert_eq!(query_words("户籍 户籍"), vec!["户籍".to_string()]);
        assert!(query_words("，。！").is_empty());
    }
}
