//! Fuzz target: the body decoders of `modelwatch_core::payload` on arbitrary UTF-8.
//!
//! The input (when it is UTF-8) is decoded as a CSV request, a CSV response and, when it parses as JSON, as a JSON
//! request and a JSON response with the default `JsonSelectors`. No decoder may panic, and every row and field it
//! produces must be readable through the public accessors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelwatch_core::payload::{
    Field, JsonSelectors, Rows, decode_csv, decode_csv_output, decode_json_input, decode_json_output,
};

/// Walks every row and field of `rows` through the public accessors.
#[allow(clippy::len_zero)] // is_empty and len are checked against each other on purpose
fn check_rows(rows: &Rows) -> usize {
    let mut fields = 0;
    for i in 0..rows.len() {
        let row = rows.row(i);
        for (j, field) in row.iter().enumerate() {
            let _ = rows.name(i, j);
            match *field {
                Field::Text { start, end } => {
                    assert!(start <= end, "text range {start}..{end}");
                    let _ = rows.text(*field);
                }
                Field::Number(n) => assert!(n.is_finite(), "non-finite JSON number {n}"),
                Field::Missing => {}
            }
            fields += 1;
        }
        if !rows.is_named() {
            assert_eq!(rows.name(i, 0), None, "positional row has a name");
        }
    }
    assert_eq!(rows.is_empty(), rows.len() == 0);
    fields
}

fn non_blank_lines(text: &str) -> usize {
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.trim().is_empty())
        .count()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lines = non_blank_lines(text);

    // CSV request: one row per non-blank line, unless a quote is unbalanced.
    let mut rows = Rows::default();
    match decode_csv(text, &mut rows) {
        Ok(()) => {
            assert_eq!(rows.len(), lines, "CSV rows != non-blank lines");
            assert!(!rows.is_named(), "CSV rows are named");
            check_rows(&rows);
        }
        Err(_) => {
            check_rows(&rows);
        }
    }
    // Appending to a used set (the reader reuses its buffers) and clearing it again.
    let _ = decode_csv(text, &mut rows);
    check_rows(&rows);
    rows.clear();
    assert!(rows.is_empty());

    // CSV response: one prediction per non-blank line.
    let mut predictions = Vec::new();
    decode_csv_output(text, &mut predictions);
    assert_eq!(predictions.len(), lines, "CSV predictions != non-blank lines");

    // JSON bodies, with the default selectors.
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(text) {
        let selectors = JsonSelectors::default();
        let mut rows = Rows::default();
        let _ = decode_json_input(&json, &selectors, &mut rows);
        check_rows(&rows);
        let mut predictions = Vec::new();
        if decode_json_output(&json, &selectors, &mut predictions).is_ok() {
            assert!(
                !predictions.is_empty() || json.is_array() || json.is_object(),
                "no prediction from {json}"
            );
        }
        for p in &predictions {
            let _ = p.label.as_deref();
        }
    }
});
