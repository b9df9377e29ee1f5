//! The feed checker: given what writers saw commit and what readers saw
//! while following the feed, says whether the feed skipped anything.

use std::collections::HashMap;
use std::fmt;

use sync_core::RecordId;

/// A write its writer saw commit, at the position the feed gave it.
#[derive(Clone, Copy, Debug)]
pub struct Committed {
    pub id: RecordId,
    pub seq: i64,
}

/// One page a reader read: the cursor it asked after, what came back, and
/// the cursor it moved to.
#[derive(Clone, Debug)]
pub struct Page {
    pub after: i64,
    pub entries: Vec<(i64, RecordId)>,
    pub next: i64,
}

/// What one reader saw, page by page.
#[derive(Clone, Debug, Default)]
pub struct ReaderLog {
    pub pages: Vec<Page>,
}

impl ReaderLog {
    pub fn cursor(&self) -> i64 {
        self.pages.last().map_or(0, |p| p.next)
    }
}

/// What is wrong with a run, if anything.
#[derive(Debug, Default)]
pub struct Report {
    pub writes: usize,
    pub readers: usize,
    pub problems: Vec<String>,
    /// Writes some reader moved past without seeing.
    pub skipped: usize,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ok() {
            return write!(
                f,
                "{} writes at positions 1..={}, each seen by all {} readers",
                self.writes, self.writes, self.readers
            );
        }
        writeln!(
            f,
            "{} problem(s) in {} writes and {} readers ({} skipped writes):",
            self.problems.len(),
            self.writes,
            self.readers,
            self.skipped
        )?;
        for problem in self.problems.iter().take(8) {
            writeln!(f, "  - {problem}")?;
        }
        if self.problems.len() > 8 {
            writeln!(f, "  … and {} more", self.problems.len() - 8)?;
        }
        Ok(())
    }
}

/// Checks that the committed writes hold positions 1..=N, each once, and
/// that every reader whose cursor reached N saw every write: the write's
/// record at its position or a later one. A write a reader did not see was
/// skipped: the reader's cursor passed its position before it committed.
pub fn check(committed: &[Committed], readers: &[ReaderLog]) -> Report {
    let mut report = Report {
        writes: committed.len(),
        readers: readers.len(),
        ..Report::default()
    };
    let n = committed.len() as i64;
    let mut positions: Vec<i64> = committed.iter().map(|w| w.seq).collect();
    positions.sort_unstable();
    if positions != (1..=n).collect::<Vec<_>>() {
        let mut dup = positions.clone();
        dup.dedup();
        report.problems.push(format!(
            "positions are not 1..={n}: {} distinct, lowest {:?}, highest {:?}",
            dup.len(),
            positions.first(),
            positions.last()
        ));
    }
    let mut in_order = committed.to_vec();
    in_order.sort_by_key(|w| w.seq);
    for (r, log) in readers.iter().enumerate() {
        let mut last_seen = 0;
        let mut last_cursor = 0;
        // Per record: the highest position this reader saw it at.
        let mut seen: HashMap<RecordId, i64> = HashMap::new();
        for page in &log.pages {
            if page.next < last_cursor {
                report.problems.push(format!(
                    "reader {r}: its cursor went back from {last_cursor} to {}",
                    page.next
                ));
            }
            last_cursor = page.next;
            for &(seq, id) in &page.entries {
                if seq <= last_seen || seq <= page.after || seq > page.next {
                    report.problems.push(format!(
                        "reader {r}: position {seq} out of order (after {}, next {}, last seen {last_seen})",
                        page.after, page.next
                    ));
                }
                last_seen = seq;
                let at = seen.entry(id).or_default();
                *at = (*at).max(seq);
            }
        }
        if log.cursor() < n {
            report.problems.push(format!(
                "reader {r} stopped at {}, before the head {n}",
                log.cursor()
            ));
            continue;
        }
        for write in &in_order {
            if seen.get(&write.id).is_none_or(|&at| at < write.seq) {
                report.skipped += 1;
                let passed = log
                    .pages
                    .iter()
                    .position(|p| p.next >= write.seq)
                    .map(|i| (i, &log.pages[i]));
                report.problems.push(match passed {
                    Some((i, page)) => format!(
                        "reader {r} skipped position {} ({:?}): page {i} moved its cursor from {} to {} without it, and it never came later",
                        write.seq, write.id, page.after, page.next
                    ),
                    None => format!("reader {r} never saw position {}", write.seq),
                });
            }
        }
    }
    report
}
