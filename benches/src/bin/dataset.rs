//! A training data set larger than memory, written and profiled into a baseline (`benches/baseline.sh`).
//!
//! `dataset write FILE ROWS`: the benchmark's 25 features (20 numeric, 5 string) as a CSV with a header, or as
//! Parquet (row groups of 1,048,576 rows, Snappy) when FILE ends in `.parquet`.
//! `dataset profile FILE`: profiles it as `modelwatch baseline` does; prints rows, seconds and MB/s. Run under
//! `/usr/bin/time -v` to see that peak memory does not grow with the file.
//! `dataset captures FILE RECORDS`: the same features as Data Capture JSON Lines (`benches/ratio.sh`).
//! `dataset labels CAPTURES FILE`: a ground-truth label (0 or 1) for every capture, as SageMaker's merge records.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use modelwatch_benches::{CaptureStream, NUMERIC, Row, STRINGS};
use modelwatch_core::dataset::{DatasetOptions, profile_dataset};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("write") if args.len() == 4 => {
            let rows: usize = args[3].parse().expect("ROWS is a number");
            let path = Path::new(&args[2]);
            if path.extension().is_some_and(|e| e == "parquet") {
                write_parquet(path, rows);
            } else {
                write_csv(path, rows);
            }
        }
        Some("profile") if args.len() == 3 => profile(Path::new(&args[2])),
        Some("labels") if args.len() == 4 => labels(Path::new(&args[2]), Path::new(&args[3])),
        Some("captures") if args.len() == 4 => {
            let records: usize = args[3].parse().expect("RECORDS is a number");
            let mut out = File::create(&args[2]).expect("create the capture file");
            std::io::copy(&mut CaptureStream::new(records), &mut out).expect("write");
        }
        _ => {
            eprintln!(
                "usage: dataset write FILE ROWS | dataset profile FILE | dataset captures FILE RECORDS | dataset labels CAPTURES FILE"
            );
            std::process::exit(2);
        }
    }
}

fn names() -> Vec<String> {
    (0..NUMERIC)
        .map(|i| format!("n{i}"))
        .chain((0..STRINGS).map(|i| format!("s{i}")))
        .collect()
}

fn write_csv(path: &Path, rows: usize) {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).expect("create the CSV"));
    writeln!(out, "{}", names().join(",")).expect("write");
    let mut row = Row::new();
    for _ in 0..rows {
        row.next();
        out.write_all(row.csv().as_bytes()).expect("write");
        out.write_all(b"\n").expect("write");
    }
    out.flush().expect("write");
}

fn write_parquet(path: &Path, rows: usize) {
    use parquet::basic::Compression;
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    const GROUP: usize = 1 << 20;
    let fields: Vec<String> = names()
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if i < NUMERIC {
                format!("required double {n};")
            } else {
                format!("required binary {n} (UTF8);")
            }
        })
        .collect();
    let schema = parse_message_type(&format!("message m {{ {} }}", fields.join(" "))).expect("schema");
    let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let file = File::create(path).expect("create the Parquet file");
    let mut writer = SerializedFileWriter::new(file, schema.into(), props.into()).expect("writer");
    let mut row = Row::new();
    let mut written = 0;
    while written < rows {
        let n = GROUP.min(rows - written);
        let mut numbers: Vec<Vec<f64>> = (0..NUMERIC).map(|_| Vec::with_capacity(n)).collect();
        let mut strings: Vec<Vec<ByteArray>> = (0..STRINGS).map(|_| Vec::with_capacity(n)).collect();
        for _ in 0..n {
            row.next();
            for (column, v) in numbers.iter_mut().zip(row.numbers()) {
                column.push(*v);
            }
            for (column, s) in strings.iter_mut().zip(row.strings()) {
                column.push(ByteArray::from(*s));
            }
        }
        let mut group = writer.next_row_group().expect("row group");
        for values in &numbers {
            let mut column = group.next_column().expect("column").expect("a column");
            column
                .typed::<DoubleType>()
                .write_batch(values, None, None)
                .expect("write");
            column.close().expect("close");
        }
        for values in &strings {
            let mut column = group.next_column().expect("column").expect("a column");
            column
                .typed::<ByteArrayType>()
                .write_batch(values, None, None)
                .expect("write");
            column.close().expect("close");
        }
        group.close().expect("close");
        written += n;
    }
    writer.close().expect("close");
}

/// A label for each capture of `captures`, by its `eventId` (the parity of its last hex digit: half of them 1).
fn labels(captures: &Path, out: &Path) {
    use std::io::BufRead;
    const ID: &str = "\"eventId\":\"";
    let input = std::io::BufReader::new(File::open(captures).expect("the capture file"));
    let mut out = BufWriter::with_capacity(1 << 20, File::create(out).expect("create the ground truth"));
    for line in input.lines() {
        let line = line.expect("read");
        let Some(at) = line.find(ID) else { continue };
        let id = &line[at + ID.len()..];
        let id = &id[..id.find('"').expect("a closed eventId")];
        let label = u8::from_str_radix(&id[id.len() - 1..], 16).expect("a hex id") % 2;
        writeln!(
            out,
            r#"{{"groundTruthData":{{"data":"{label}","encoding":"CSV"}},"eventMetadata":{{"eventId":"{id}"}},"eventVersion":"0"}}"#
        )
        .expect("write");
    }
    out.flush().expect("write");
}

fn profile(path: &Path) {
    let bytes = std::fs::metadata(path).expect("the data set").len();
    let started = Instant::now();
    let options = DatasetOptions {
        has_header: true,
        ..Default::default()
    };
    let profile = profile_dataset(path, &options).expect("profile the data set");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{} rows, {:.1} MB in {:.2} s: {:.0} MB/s, {:.0} rows/s; types {:?}",
        profile.item_count,
        bytes as f64 / 1e6,
        seconds,
        bytes as f64 / 1e6 / seconds,
        profile.item_count as f64 / seconds,
        profile.features.iter().map(|f| f.inferred_type()).collect::<Vec<_>>()
    );
}
