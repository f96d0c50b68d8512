//! A scrape's per-repository text: written family by family over blocks of repositories,
//! streamed piece by piece, and reused from the scrape before wherever a block's results did
//! not change.
//!
//! Why reuse: with `min_interval` most scrapes show the answers the scrape before showed, and
//! writing them again was nearly all of such a scrape's cost (BENCHMARKS.md, "Figures behind the
//! code"). Only the `Samples::AtScrapeTime` families (`event_age_seconds`, `answer_age_seconds`)
//! depend on the scrape time, so they are written every time; every other family of a block is
//! reused while the block's results are the same. Blocks rather than the
//! whole answer, so that a scrape that refreshed a few repositories (rotation) rewrites only their
//! blocks.
//!
//! What is kept of a line is what follows its `name{labels` (`} 1749024869`), since that prefix is
//! the same for every line of one repository in one family; the prefixes are put back when a block
//! is reused. Kept whole, the text was most of a 100,000-repository exporter's memory; kept this
//! way it takes a fraction of the bytes. Putting the prefixes back is a copy of the text, a small
//! part of a scrape from the cache (BENCHMARKS.md, "Figures behind the code").
//!
//! Why streamed: a large answer is megabytes of text. Without a cache it is never held whole,
//! and its writing is spread over the polls of the response body instead of blocking a worker
//! thread for all of it.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;

use super::families::{Families, Prepared, Samples, FAMILIES};
use super::format::{assemble, push_header, unix_seconds, Lines};
use crate::collect::RepositoryResult;

/// Repositories per block: one family of one block is one streamed piece (tens of KiB), and a
/// refreshed repository costs the rewrite of at most this many.
const BLOCK_REPOSITORIES: usize = 256;

/// Consecutive repositories' results and, family by family, their text.
struct Block {
    results: Vec<RepositoryResult>,
    prepared: Vec<Prepared>,
    /// One entry per [`FAMILIES`] entry; filled only for a block that is kept, and left empty
    /// for the families written at scrape time.
    texts: Vec<Kept>,
}

/// One family's lines of a kept block, without their prefixes (see the module doc).
#[derive(Default)]
struct Kept {
    rest: Box<str>,
    /// Lines per repository, in the block's order.
    counts: Box<[u8]>,
}

impl Block {
    fn new(results: Vec<RepositoryResult>) -> Self {
        Self {
            prepared: results.iter().map(Prepared::new).collect(),
            results,
            texts: Vec::new(),
        }
    }
}

/// The blocks of the last scrape that was written to the end, for the next scrape to reuse.
///
/// Holds about a quarter of one answer's text (plus the blocks' results), and only while
/// answers are kept (the cache's `min_interval` above zero, or change-driven refresh): otherwise
/// no two scrapes show the same answer.
pub(crate) struct TextCache {
    blocks: Mutex<Cached>,
}

/// The kept blocks and the families they were written with.
struct Cached {
    families: Families,
    blocks: Vec<Option<Arc<Block>>>,
}

impl Default for TextCache {
    fn default() -> Self {
        Self {
            blocks: Mutex::new(Cached {
                families: Families::ALL,
                blocks: Vec::new(),
            }),
        }
    }
}

impl TextCache {
    /// The text of `results` as of `now`, of the `families` written. With `keep`, every block
    /// whose results are the same as the last scrape's is reused (when the families are too),
    /// and this scrape's blocks are kept once it is written to the end; without, the cache is
    /// emptied and nothing is kept.
    pub(crate) fn text(
        self: &Arc<Self>,
        results: Vec<RepositoryResult>,
        now: SystemTime,
        keep: bool,
        families: Families,
    ) -> RepositoryText {
        // Block by block, so that the results of a reused block are dropped at once rather than
        // held as a second copy of every result until the end.
        let mut results = results.into_iter();
        let count = results.len().div_ceil(BLOCK_REPOSITORIES);
        // Ok: a block to reuse; Err: the results of a block to write.
        let parts: Vec<Result<Arc<Block>, Vec<RepositoryResult>>> = {
            let mut cached = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
            if !keep || cached.families != families {
                cached.blocks.clear();
                cached.families = families;
            }
            cached.blocks.truncate(count);
            (0..count)
                .map(|index| {
                    let part: Vec<_> = results.by_ref().take(BLOCK_REPOSITORIES).collect();
                    match cached.blocks.get_mut(index) {
                        Some(Some(block)) if all_same(&block.results, &part) => Ok(block.clone()),
                        // Freed now rather than when this scrape is written: the memory of a
                        // changed block is not held twice.
                        Some(slot) => {
                            *slot = None;
                            Err(part)
                        }
                        None => Err(part),
                    }
                })
                .collect()
        };
        let blocks = parts
            .into_iter()
            .map(|part| match part {
                Ok(block) => Source::Reused(block),
                Err(part) => Source::Written(Block::new(part)),
            })
            .collect();
        RepositoryText::from_blocks(blocks, now, families, keep.then(|| self.clone()))
    }
}

fn into_blocks(results: Vec<RepositoryResult>) -> Vec<Vec<RepositoryResult>> {
    let mut results = results.into_iter().peekable();
    let mut blocks = Vec::new();
    while results.peek().is_some() {
        blocks.push(results.by_ref().take(BLOCK_REPOSITORIES).collect());
    }
    blocks
}

fn all_same(cached: &[RepositoryResult], current: &[RepositoryResult]) -> bool {
    cached.len() == current.len() && cached.iter().zip(current).all(|(a, b)| same(a, b))
}

/// Whether `a` and `b` are written the same by every family but those written at scrape time.
///
/// The answer is compared by identity: the collector shares one answer object between the
/// scrapes that show it, and a new fetch is a new object even when its content is equal. Every
/// field is named so that a field added to [`RepositoryResult`] cannot be forgotten here.
fn same(a: &RepositoryResult, b: &RepositoryResult) -> bool {
    let RepositoryResult {
        repository,
        status,
        error,
        http_status,
        duration,
        last_success,
        answered,
        last_push,
    } = a;
    let same_status = match (status, &b.status) {
        (Some(x), Some(y)) => Arc::ptr_eq(x, y),
        (None, None) => true,
        _ => false,
    };
    same_status
        && *repository == b.repository
        && *answered == b.answered
        && *error == b.error
        && *http_status == b.http_status
        && *duration == b.duration
        && *last_success == b.last_success
        && *last_push == b.last_push
}

/// Where a block's text comes from in this scrape.
enum Source {
    Reused(Arc<Block>),
    Written(Block),
}

impl Source {
    fn block(&self) -> &Block {
        match self {
            Self::Reused(block) => block,
            Self::Written(block) => block,
        }
    }
}

/// The per-repository series of one scrape, produced piece by piece: family by family, each
/// family's header before its first sample, a family with no sample left out entirely.
pub struct RepositoryText {
    blocks: Vec<Source>,
    now: f64,
    families: Families,
    family: usize,
    block: usize,
    header_written: bool,
    /// Where this scrape's blocks go once it is written to the end; `None` when not kept.
    keep_in: Option<Arc<TextCache>>,
}

impl RepositoryText {
    /// The text of `results` as of `now`, of the `families` written, from scratch and kept
    /// nowhere.
    pub fn new(results: Vec<RepositoryResult>, now: SystemTime, families: Families) -> Self {
        let blocks = into_blocks(results)
            .into_iter()
            .map(|part| Source::Written(Block::new(part)))
            .collect();
        Self::from_blocks(blocks, now, families, None)
    }

    fn from_blocks(
        blocks: Vec<Source>,
        now: SystemTime,
        families: Families,
        keep_in: Option<Arc<TextCache>>,
    ) -> Self {
        Self {
            blocks,
            now: unix_seconds(now),
            families,
            family: 0,
            block: 0,
            header_written: false,
            keep_in,
        }
    }

    /// How many blocks of repositories this scrape reuses from the scrape before.
    pub fn reused_blocks(&self) -> usize {
        self.blocks
            .iter()
            .filter(|source| matches!(source, Source::Reused(_)))
            .count()
    }

    /// The next piece of text (one family of one block, ending at a line); `None` when all was
    /// written, at which point the blocks are kept if this text was made to keep them.
    pub fn next_piece(&mut self) -> Option<Bytes> {
        while self.family < FAMILIES.len() {
            while self.block < self.blocks.len() {
                let piece = self.write(self.block);
                self.block += 1;
                if piece.is_some() {
                    return piece;
                }
            }
            self.family += 1;
            self.block = 0;
            self.header_written = false;
        }
        self.keep();
        None
    }

    /// The current family's samples of block `index`, after the family's header if they are
    /// its first; `None` when the block has none.
    fn write(&mut self, index: usize) -> Option<Bytes> {
        let (spec, samples) = &FAMILIES[self.family];
        let keep = self.keep_in.is_some();
        if !self.families.contains(self.family) {
            // Kept blocks hold one entry per family, written or not.
            if let (Source::Written(block), true) = (&mut self.blocks[index], keep) {
                block.texts.push(Kept::default());
            }
            return None;
        }
        let samples = match (&mut self.blocks[index], samples) {
            (Source::Reused(block), Samples::OfResult(_)) => {
                let kept = &block.texts[self.family];
                let labels = block.prepared.iter().map(|p| &*p.labels);
                Bytes::from(assemble(spec, &kept.rest, &kept.counts, labels))
            }
            (Source::Written(block), Samples::OfResult(write)) => {
                let mut lines = if keep {
                    Lines::with_rest()
                } else {
                    Lines::whole()
                };
                let mut counts = Vec::with_capacity(if keep { block.results.len() } else { 0 });
                for (result, prepared) in block.results.iter().zip(&block.prepared) {
                    write(&mut lines, result, prepared);
                    if keep {
                        counts.push(lines.take_count());
                    }
                }
                if let Some(rest) = lines.rest {
                    block.texts.push(Kept {
                        rest: rest.into_boxed_str(),
                        counts: counts.into_boxed_slice(),
                    });
                }
                Bytes::from(lines.whole)
            }
            (source, Samples::AtScrapeTime(write)) => {
                let mut lines = Lines::whole();
                for prepared in &source.block().prepared {
                    write(&mut lines, prepared, self.now);
                }
                if let Source::Written(block) = source {
                    if keep {
                        block.texts.push(Kept::default());
                    }
                }
                Bytes::from(lines.whole)
            }
        };
        if samples.is_empty() {
            return None;
        }
        if self.header_written {
            return Some(samples);
        }
        self.header_written = true;
        let mut first = String::with_capacity(samples.len() + 256);
        push_header(&mut first, spec);
        let mut first = first.into_bytes();
        first.extend_from_slice(&samples);
        Some(Bytes::from(first))
    }

    /// Hands this scrape's blocks to the cache it was made for.
    fn keep(&mut self) {
        let Some(cache) = self.keep_in.take() else {
            return;
        };
        let blocks = std::mem::take(&mut self.blocks)
            .into_iter()
            .map(|source| {
                Some(match source {
                    Source::Reused(block) => block,
                    Source::Written(block) => Arc::new(block),
                })
            })
            .collect();
        let mut cached = cache.blocks.lock().unwrap_or_else(|e| e.into_inner());
        // Kept only if no scrape with other families came in between.
        if cached.families == self.families {
            cached.blocks = blocks;
        }
    }
}

/// The pieces in order, as [`RepositoryText::next_piece`] gives them.
impl Iterator for RepositoryText {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        self.next_piece()
    }
}

/// The per-repository text of every family of `results`, as of `now`, written from scratch in
/// one string: what the unit tests compare.
#[cfg(test)]
pub(super) fn render_repositories(results: &[RepositoryResult], now: SystemTime) -> String {
    let text = RepositoryText::new(results.to_vec(), now, Families::ALL);
    String::from_utf8(text.flatten().collect())
        .expect("pieces are written from &strs, cut at line ends")
}

#[cfg(test)]
mod tests;
