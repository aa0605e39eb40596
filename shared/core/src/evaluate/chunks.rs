//! Reading captures on every core.
//!
//! Each capture file is cut into chunks of whole lines of about [`CHUNK_BYTES`] (a smaller file is one chunk). Each
//! chunk is read into its own [`Tally`] by whichever worker thread is free, and the tallies are merged into the
//! run's in input order. The cut depends only on the bytes and the merge order only on the input, so a run's reports
//! are the same whatever the number of threads; with one thread the chunks are read in turn on the calling thread.
//!
//! The calling thread opens the files and cuts them (decompressing gzip); `threads` workers read chunks; one more
//! thread merges. Memory: the chunk being cut, one queued and one in reading a worker ([`CHUNK_BYTES`] each, the
//! buffers reused), and the tallies read ahead of an earlier chunk still in reading.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Read};
use std::sync::{Arc, Mutex, PoisonError, mpsc};

use crate::capture::{
    CaptureError, CaptureReader, CaptureRow, FileSummary, InferredType, ReaderCounts, open_decompressed, records_read,
};
use crate::history::WindowBuilder;
use crate::ports::error_chain;
use crate::profile::DatasetProfile;
use crate::quality::{self, CbpeAccumulator, CbpeCalibration, ProblemSpec, QualityJoin};
use crate::window::Window;

use super::FileResult;

/// The size a chunk of a capture file is cut at (the next line end after it): large enough that a chunk's tally
/// (profile, join entries, a CBPE histogram of 1 MiB) costs little beside reading its rows, small enough that a
/// Lambda's file of a few minutes of traffic spreads over its cores.
pub const CHUNK_BYTES: usize = 4 << 20;

/// What the rows of a part of the input add up to: everything the evaluator counts row by row.
#[derive(Debug)]
pub(super) struct Tally {
    pub profile: DatasetProfile,
    /// The captures waiting for their labels, when model quality is configured.
    pub join: Option<QualityJoin>,
    /// The first error the join reported (too many classes).
    pub join_error: Option<String>,
    pub predictions: WindowBuilder,
    /// The label-free estimate, when the baseline has a calibration.
    pub estimate: Option<CbpeAccumulator>,
    pub rows_outside_window: u64,
}

impl Tally {
    /// Adds a tally of later input.
    pub fn merge(&mut self, other: Tally) {
        self.profile.merge(&other.profile);
        if let (Some(mine), Some(theirs)) = (self.join.as_mut(), other.join) {
            let merged = mine.merge(theirs);
            let error = other.join_error.or_else(|| merged.err().map(|e| e.to_string()));
            if let Some(e) = error {
                self.join_error.get_or_insert(e);
            }
        }
        self.predictions.merge(&other.predictions);
        if let (Some(mine), Some(theirs)) = (self.estimate.as_mut(), &other.estimate) {
            mine.merge(theirs);
        }
        self.rows_outside_window += other.rows_outside_window;
    }
}

/// How rows are counted: what the evaluator's configuration decides, shared by every worker.
#[derive(Debug)]
pub(super) struct RowRules<'a> {
    /// The profiled features, with their expected types.
    pub features: Vec<(String, Option<InferredType>)>,
    /// How outputs are read for the prediction summary.
    pub outputs: Option<ProblemSpec>,
    /// The model-quality join's problem, when quality is configured.
    pub quality: Option<ProblemSpec>,
    pub calibration: Option<&'a CbpeCalibration>,
}

impl RowRules<'_> {
    /// An empty tally; `salt` seeds its quantile sketches (each chunk its own).
    pub fn tally(&self, salt: u64) -> Tally {
        let mut profile = DatasetProfile::new(self.features.iter().cloned());
        profile.reseed(salt);
        Tally {
            profile,
            join: self.quality.clone().map(QualityJoin::new),
            join_error: None,
            predictions: WindowBuilder::default(),
            estimate: self.calibration.map(CbpeCalibration::accumulator),
            rows_outside_window: 0,
        }
    }

    /// Counts one row; with `within`, a row whose `inferenceTime` is outside it (or missing) is only counted as
    /// outside the window.
    pub fn add(&self, tally: &mut Tally, row: &CaptureRow<'_>, within: Option<&Window>) {
        if let Some(w) = within
            && !row.meta.inference_time.is_some_and(|t| w.contains(t))
        {
            tally.rows_outside_window += 1;
            return;
        }
        tally.profile.add_row(row);
        self.add_output(&mut tally.predictions, row.prediction);
        if let (Some(calibration), Some(acc), Some(p)) = (self.calibration, tally.estimate.as_mut(), row.prediction) {
            calibration.add(acc, p.score, p.label.as_deref());
        }
        if let (Some(join), Some(id), Some(p)) = (tally.join.as_mut(), row.meta.join_id(), row.prediction) {
            let index = (row.rows_in_record > 1).then_some(row.index);
            if let Err(e) = join.add_capture(id, index, p.score, p.label.as_deref(), row.meta.inference_time) {
                tally.join_error.get_or_insert_with(|| e.to_string());
            }
        }
    }

    /// Counts one row's output: missing, or neither a finite score nor a label, is invalid.
    fn add_output(&self, summary: &mut WindowBuilder, prediction: Option<&crate::payload::Prediction<'_>>) {
        let Some(p) = prediction else {
            summary.add_invalid();
            return;
        };
        let score = p.score.filter(|s| s.is_finite());
        let label = p.label.as_deref();
        if score.is_none() && label.is_none() {
            summary.add_invalid();
            return;
        }
        let positive = match &self.outputs {
            Some(ProblemSpec::Binary(o)) => o.predicted_positive(score, label),
            _ => None,
        };
        let class = match &self.outputs {
            Some(ProblemSpec::Regression) => None,
            _ => label.map(quality::normalize_class),
        };
        summary.add(score, positive, class.as_deref());
    }
}

/// One piece of the input, in order: a chunk of a file, a file's end, or a file that could not be opened.
enum Piece {
    Chunk(Chunk),
    End(FileEnd),
    Failed(FileResult),
}

struct Chunk {
    name: Arc<str>,
    /// Lines of the file before the chunk.
    first_line: u64,
    bytes: Vec<u8>,
    within: Option<Window>,
}

struct FileEnd {
    name: Arc<str>,
    /// Lines the file had (until its error, when it failed).
    lines: u64,
    /// The stream's error, when it failed part-way.
    error: Option<io::Error>,
}

/// A piece once read, for the merge.
enum Done {
    Chunk {
        tally: Box<Tally>,
        counts: ReaderCounts,
        summary: FileSummary,
    },
    End(FileEnd),
    Failed(FileResult),
}

/// Chunk buffers read and given back, for the next chunks: a run allocates a few, not one a chunk. (Freeing a
/// buffer of megabytes a chunk also made glibc raise its mmap threshold, after which the join's growing vector came
/// from the heap and was copied when it grew: 31 bytes a labelled record instead of 24.)
#[derive(Default)]
struct Buffers(Mutex<Vec<Vec<u8>>>);

impl Buffers {
    /// Buffers kept at most; more are freed.
    const KEPT: usize = 16;

    /// An empty buffer, with room for a chunk when one was given back.
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default()
    }

    fn give(&self, mut buffer: Vec<u8>) {
        buffer.clear();
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() < Self::KEPT {
            kept.push(buffer);
        }
    }
}

/// Reads one chunk into a new tally with a worker's reader; its buffer goes back to `buffers`.
fn read_chunk(reader: &mut CaptureReader, rules: &RowRules<'_>, chunk: Chunk, seq: u64, buffers: &Buffers) -> Done {
    let mut tally = rules.tally(seq);
    let mut summary = FileSummary::default();
    let within = chunk.within.as_ref();
    // A slice cannot fail to read.
    let _ = reader.read_lines(
        &chunk.name,
        chunk.bytes.as_slice(),
        chunk.first_line,
        &mut summary,
        &mut |row: &CaptureRow<'_>| rules.add(&mut tally, row, within),
    );
    buffers.give(chunk.bytes);
    Done::Chunk {
        tally: Box::new(tally),
        counts: reader.take_counts(),
        summary,
    }
}

/// The run's state that pieces are merged into, in input order.
pub(super) struct Merge<'e> {
    pub tally: &'e mut Tally,
    pub reader: &'e mut CaptureReader,
    pub files: &'e mut Vec<FileResult>,
    /// The current file's counts so far.
    file: FileSummary,
    next: u64,
    waiting: BTreeMap<u64, Done>,
}

impl<'e> Merge<'e> {
    pub fn new(tally: &'e mut Tally, reader: &'e mut CaptureReader, files: &'e mut Vec<FileResult>) -> Self {
        Merge {
            tally,
            reader,
            files,
            file: FileSummary::default(),
            next: 0,
            waiting: BTreeMap::new(),
        }
    }

    /// Takes piece number `seq`, merging it and every piece after it that is already there once the pieces before
    /// it are merged.
    fn take(&mut self, seq: u64, done: Done) {
        self.waiting.insert(seq, done);
        while let Some(done) = self.waiting.remove(&self.next) {
            self.next += 1;
            self.apply(done);
        }
    }

    fn apply(&mut self, done: Done) {
        match done {
            Done::Chunk { tally, counts, summary } => {
                self.tally.merge(*tally);
                self.reader.add_counts(&counts);
                self.file.lines += summary.lines;
                self.file.records += summary.records;
                self.file.rows += summary.rows;
            }
            Done::End(end) => {
                let summary = std::mem::take(&mut self.file);
                let read = match end.error {
                    Some(source) => Err(CaptureError::Io {
                        source_name: end.name.to_string(),
                        line: end.lines,
                        summary,
                        source,
                    }),
                    None => records_read(&end.name, summary),
                };
                self.files.push(match read {
                    Ok(summary) => FileResult {
                        name: end.name.to_string(),
                        summary,
                        error: None,
                    },
                    Err(e) => FileResult {
                        name: end.name.to_string(),
                        summary: e.read_before(),
                        error: Some(error_chain(&e)),
                    },
                });
            }
            Done::Failed(result) => self.files.push(result),
        }
    }
}

/// Hands the files of a run, in order, to the readers ([`read_files`]).
pub(super) struct Feed<'f> {
    dispatch: &'f mut dyn FnMut(Piece),
    max_line_bytes: usize,
    buffers: &'f Buffers,
}

impl Feed<'_> {
    /// Cuts a capture file (gzip when `name` ends in `.gz`) into chunks for the readers; with `within`, only its rows
    /// inside the window count. A stream that fails part-way is the file's error; what was read before it counts.
    pub fn file(&mut self, name: &str, input: impl Read, within: Option<Window>) {
        let name: Arc<str> = name.into();
        let mut input = open_decompressed(&name, input);
        let dispatch = &mut *self.dispatch;
        let buffers = self.buffers;
        let cut = cut_lines(
            &mut input,
            self.max_line_bytes,
            &mut || buffers.take(),
            &mut |bytes, first_line| {
                dispatch(Piece::Chunk(Chunk {
                    name: Arc::clone(&name),
                    first_line,
                    bytes,
                    within,
                }));
            },
        );
        let (lines, error) = match cut {
            Ok(lines) => (lines, None),
            Err((e, lines)) => (lines, Some(e)),
        };
        dispatch(Piece::End(FileEnd { name, lines, error }));
    }

    /// Records a file that could not be opened, in its place among the others.
    pub fn failed(&mut self, result: FileResult) {
        (self.dispatch)(Piece::Failed(result));
    }
}

/// Reads the files `feed` hands on with `threads` workers (one: on this thread) into `merge`.
///
/// # Errors
///
/// `feed`'s error; the pieces it handed on before are merged all the same.
pub(super) fn read_files<E>(
    merge: Merge<'_>,
    rules: &RowRules<'_>,
    threads: usize,
    max_line_bytes: usize,
    feed: impl FnOnce(&mut Feed<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let buffers = Buffers::default();
    if threads <= 1 {
        let mut merge = merge;
        let mut reader = merge.reader.fork();
        let mut seq = 0;
        let mut dispatch = |piece: Piece| {
            let done = match piece {
                Piece::Chunk(chunk) => read_chunk(&mut reader, rules, chunk, seq, &buffers),
                Piece::End(end) => Done::End(end),
                Piece::Failed(result) => Done::Failed(result),
            };
            merge.take(seq, done);
            seq += 1;
        };
        return feed(&mut Feed {
            dispatch: &mut dispatch,
            max_line_bytes,
            buffers: &buffers,
        });
    }
    let forks: Vec<CaptureReader> = (0..threads).map(|_| merge.reader.fork()).collect();
    std::thread::scope(|scope| {
        // A chunk a worker queued: cutting is much faster than reading, so every worker finds the next one ready.
        let (chunks, queue) = mpsc::sync_channel::<(u64, Chunk)>(threads);
        // Only the workers hold the queue: if every one of them stopped (a panic), sending fails instead of blocking.
        let queue = Arc::new(Mutex::new(queue));
        let (read, results) = mpsc::channel::<(u64, Done)>();
        for mut reader in forks {
            let (queue, read, buffers) = (Arc::clone(&queue), read.clone(), &buffers);
            scope.spawn(move || {
                loop {
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    let Ok((seq, chunk)) = next else { break };
                    if read
                        .send((seq, read_chunk(&mut reader, rules, chunk, seq, buffers)))
                        .is_err()
                    {
                        break;
                    }
                }
            });
        }
        drop(queue);
        let merged = scope.spawn(move || {
            let mut merge = merge;
            for (seq, done) in results {
                merge.take(seq, done);
            }
            merge.waiting.is_empty()
        });
        let mut seq = 0;
        let mut dispatch = |piece: Piece| {
            // A send fails only when the workers or the merge stopped, which fails the scope below.
            let _ = match piece {
                Piece::Chunk(chunk) => chunks.send((seq, chunk)).map_err(drop),
                Piece::End(end) => read.send((seq, Done::End(end))).map_err(drop),
                Piece::Failed(result) => read.send((seq, Done::Failed(result))).map_err(drop),
            };
            seq += 1;
        };
        let result = feed(&mut Feed {
            dispatch: &mut dispatch,
            max_line_bytes,
            buffers: &buffers,
        });
        drop(chunks);
        drop(read);
        let complete = merged.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        assert!(complete, "every piece handed on was merged");
        result
    })
}

/// Cuts a stream into chunks of whole lines of at least [`CHUNK_BYTES`] (the last one what is left), handing each
/// with the number of lines before it to `emit`; returns the number of lines. A line longer than `max_line_bytes`
/// is cut to `max_line_bytes + 1` bytes, so that its reader still sees (and skips) it as too long while memory
/// stays bounded.
///
/// # Errors
///
/// The stream's error, after the whole lines before it were handed on, with their number; the unfinished line is
/// dropped.
fn cut_lines(
    input: &mut dyn BufRead,
    max_line_bytes: usize,
    buffer: &mut dyn FnMut() -> Vec<u8>,
    emit: &mut dyn FnMut(Vec<u8>, u64),
) -> Result<u64, (io::Error, u64)> {
    let mut chunk = buffer();
    // Where the unfinished last line of `chunk` starts.
    let mut line_start = 0;
    // Discarding the rest of a line already cut to its limit.
    let mut skipping = false;
    let mut lines = 0u64;
    let mut hand_on = |chunk: Vec<u8>, lines: &mut u64| {
        let count = memchr::memchr_iter(b'\n', &chunk).count() as u64 + u64::from(chunk.last() != Some(&b'\n'));
        emit(chunk, *lines);
        *lines += count;
    };
    loop {
        let data = match input.fill_buf() {
            Ok(data) => data,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                chunk.truncate(line_start);
                if !chunk.is_empty() {
                    hand_on(chunk, &mut lines);
                }
                return Err((e, lines));
            }
        };
        if data.is_empty() {
            break;
        }
        let taken = data.len();
        if skipping {
            match memchr::memchr(b'\n', data) {
                // The line ends here: its newline is read with what follows.
                Some(end) => {
                    input.consume(end);
                    skipping = false;
                }
                None => input.consume(taken),
            }
            continue;
        }
        let before = chunk.len();
        chunk.extend_from_slice(data);
        input.consume(taken);
        if let Some(end) = memchr::memrchr(b'\n', &chunk[before..]) {
            line_start = before + end + 1;
        }
        if chunk.len() - line_start > max_line_bytes {
            chunk.truncate(line_start + max_line_bytes + 1);
            skipping = true;
        }
        if line_start >= CHUNK_BYTES {
            let mut next = buffer();
            // A file this large has more chunks: the next one's room is taken at once.
            next.reserve(CHUNK_BYTES + 2 * taken);
            next.extend_from_slice(&chunk[line_start..]);
            chunk.truncate(line_start);
            hand_on(std::mem::replace(&mut chunk, next), &mut lines);
            line_start = 0;
        }
    }
    if !chunk.is_empty() {
        hand_on(chunk, &mut lines);
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cuts `text` read `step` bytes at a time and returns the chunks with their first lines.
    fn cut(text: &[u8], step: usize, max_line: usize) -> (Vec<(Vec<u8>, u64)>, u64) {
        let mut input = io::BufReader::with_capacity(step, text);
        let mut chunks = Vec::new();
        let lines = cut_lines(&mut input, max_line, &mut Vec::new, &mut |bytes, first| {
            chunks.push((bytes, first))
        })
        .unwrap();
        (chunks, lines)
    }

    #[test]
    fn chunks_are_whole_lines_numbered_from_the_lines_before_them() {
        let line = |i: usize| format!("{{\"line\": {i}, \"pad\": \"{}\"}}\n", "x".repeat(i % 97));
        let text: String = (0..150_000).map(line).collect();
        let (chunks, lines) = cut(text.as_bytes(), 65_536, 1 << 20);
        assert_eq!(lines, 150_000);
        assert!(chunks.len() >= 3, "{} chunks of {} bytes", chunks.len(), text.len());
        let mut expected_first = 0;
        for (bytes, first) in &chunks {
            assert_eq!(*first, expected_first);
            assert_eq!(bytes.last(), Some(&b'\n'), "a chunk ends at a line's end");
            assert!(bytes.len() >= CHUNK_BYTES || bytes.as_ptr() == chunks.last().unwrap().0.as_ptr());
            let first_line = std::str::from_utf8(bytes).unwrap().lines().next().unwrap().to_owned();
            assert_eq!(first_line + "\n", line(*first as usize));
            expected_first += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        }
        let joined: Vec<u8> = chunks.into_iter().flat_map(|(b, _)| b).collect();
        assert_eq!(joined, text.as_bytes(), "nothing lost, nothing doubled");
    }

    #[test]
    fn a_last_line_without_newline_counts_and_a_long_line_is_cut_past_its_limit() {
        let long = "y".repeat(10_000);
        let text = format!("a\n{long}\nb\n{long}{long}\nc");
        let (chunks, lines) = cut(text.as_bytes(), 64, 100);
        assert_eq!(lines, 5);
        assert_eq!(chunks.len(), 1);
        let expected = format!("a\n{}\nb\n{}\nc", &long[..101], &long[..101]);
        assert_eq!(String::from_utf8(chunks[0].0.clone()).unwrap(), expected);
    }

    /// A reader that fails after `ok` bytes.
    struct Failing<'a> {
        data: &'a [u8],
        ok: usize,
    }

    impl Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.ok == 0 {
                return Err(io::Error::other("connection reset"));
            }
            let n = buf.len().min(self.ok).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            self.ok -= n;
            Ok(n)
        }
    }

    #[test]
    fn a_failing_stream_hands_on_its_whole_lines_and_counts_them() {
        let text = b"one\ntwo\nthr";
        let mut input = io::BufReader::with_capacity(4, Failing { data: text, ok: 11 });
        let mut chunks = Vec::new();
        let (e, lines) = cut_lines(&mut input, 100, &mut Vec::new, &mut |bytes, first| {
            chunks.push((bytes, first))
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "connection reset");
        assert_eq!(lines, 2);
        assert_eq!(chunks, vec![(b"one\ntwo\n".to_vec(), 0)]);
    }
}
