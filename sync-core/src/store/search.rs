//! Full-text search that works for Chinese.
//!
//! SQLite's `unicode61` tokenizer would index a run of Chinese characters as
//! one token, and the `trigram` tokenizer cannot use its index for a query of
//! two characters, which is the most common length of a Chinese word (轮椅,
//! 路灯). So runs of CJK characters are indexed as overlapping bigrams plus
//! the run's last character (轮椅子 → `轮椅 椅子 子`); other text is indexed
//! as words. A query goes through the same transformation and becomes an
//! FTS5 phrase, so 轮椅 matches the bigram and 大爷的轮椅 matches adjacent bigrams.

use crate::model::Record;

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF      // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xF900..=0xFAFF    // CJK Compatibility Ideographs
        | 0x20000..=0x2FA1F  // Extensions B–F, compatibility supplement
        | 0x3040..=0x30FF    // Hiragana, Katakana
        | 0xAC00..=0xD7AF) // Hangul syllables
}

/// Splits text into the tokens that are indexed, in order: the search
/// terms of a store that keeps them itself rather than in FTS5.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut run: Vec<char> = Vec::new();
    let mut word = String::new();
    let flush_run = |run: &mut Vec<char>, out: &mut Vec<String>| {
        for pair in run.windows(2) {
            out.push(pair.iter().collect());
        }
        if let Some(last) = run.last() {
            out.push(last.to_string());
        }
        run.clear();
    };
    let flush_word = |word: &mut String, out: &mut Vec<String>| {
        if !word.is_empty() {
            out.push(std::mem::take(word).to_lowercase());
        }
    };
    for c in text.chars() {
        if is_cjk(c) {
            flush_word(&mut word, &mut out);
            run.push(c);
        } else if c.is_alphanumeric() {
            flush_run(&mut run, &mut out);
            word.push(c);
        } else {
            flush_run(&mut run, &mut out);
            flush_word(&mut word, &mut out);
        }
    }
    flush_run(&mut run, &mut out);
    flush_word(&mut word, &mut out);
    out
}

/// The text a record is found by: a household's address, head and notes,
/// a visit's notes and needs, a wish card's text.
pub fn searchable_text(record: &Record) -> String {
    match record {
        Record::Household(h) => format!("{} {} {}", h.address, h.head_name, h.notes),
        Record::Visit(v) => format!("{} {}", v.notes, v.needs),
        Record::Wish(w) => w.text.clone(),
    }
}

/// The text stored in the FTS index for `text`.
pub(crate) fn index_body(text: &str) -> String {
    tokens(text).join(" ")
}

/// What one whitespace-separated part of a search query asks of a record's
/// terms ([`tokens`] of its [`searchable_text`]). Every part of a query
/// must match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryPart {
    /// These terms, one right after the other (an FTS5 phrase).
    Phrase(Vec<String>),
    /// A term starting with this (a lone CJK character: an FTS5 prefix
    /// query, since the character's bigrams start with it).
    Prefix(String),
}

impl QueryPart {
    /// Whether a record indexed as `terms` matches this part, as FTS5
    /// matches the MATCH expression SQLite's store builds from it.
    pub fn matches(&self, terms: &[String]) -> bool {
        match self {
            QueryPart::Phrase(phrase) => {
                !phrase.is_empty()
                    && terms
                        .windows(phrase.len())
                        .any(|window| window == phrase.as_slice())
            }
            QueryPart::Prefix(prefix) => terms.iter().any(|t| t.starts_with(prefix.as_str())),
        }
    }
}

/// The parts of a user's query; none if it has nothing to search for (and
/// then nothing matches).
pub fn query_parts(query: &str) -> Vec<QueryPart> {
    query
        .split_whitespace()
        .filter_map(|part| {
            let mut toks = tokens(part);
            // A lone CJK query character: the run's last-character token covers
            // the end of a run; bigrams cover the rest, hence the prefix query.
            if toks.len() == 1 && toks[0].chars().count() == 1 && toks[0].chars().all(is_cjk) {
                return Some(QueryPart::Prefix(toks.remove(0)));
            }
            // Drop the trailing single character of a CJK run (`轮椅` → `轮椅 椅`):
            // in the index that token only follows the run's final bigram.
            if toks.len() >= 2 {
                let last = &toks[toks.len() - 1];
                let before = &toks[toks.len() - 2];
                if last.chars().count() == 1
                    && before.ends_with(last.as_str())
                    && last.chars().all(is_cjk)
                {
                    toks.pop();
                }
            }
            (!toks.is_empty()).then_some(QueryPart::Phrase(toks))
        })
        .collect()
}

/// An FTS5 MATCH expression for a user's query, or `None` if it has nothing
/// to search for. Each whitespace-separated part must match (as a phrase).
pub(crate) fn match_expression(query: &str) -> Option<String> {
    let phrases: Vec<String> = query_parts(query)
        .into_iter()
        .map(|part| match part {
            QueryPart::Prefix(c) => format!("\"{c}\"*"),
            QueryPart::Phrase(toks) => format!("\"{}\"", toks.join(" ").replace('"', "")),
        })
        .collect();
    (!phrases.is_empty()).then(|| phrases.join(" AND "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_runs_become_bigrams_and_words_stay_whole() {
        assert_eq!(
            tokens("李大爷要轮椅"),
            ["李大", "大爷", "爷要", "要轮", "轮椅", "椅"]
        );
        assert_eq!(tokens("Fix lamp 3号"), ["fix", "lamp", "3", "号"]);
    }

    #[test]
    fn queries_are_phrases() {
        assert_eq!(match_expression("轮椅").as_deref(), Some("\"轮椅\""));
        assert_eq!(
            match_expression("大爷的轮椅").as_deref(),
            Some("\"大爷 爷的 的轮 轮椅\"")
        );
        assert_eq!(match_expression("椅").as_deref(), Some("\"椅\"*"));
        assert_eq!(match_expression("  ").as_deref(), None);
        assert_eq!(match_expression("\"*").as_deref(), None);
    }
}
