//! Numbers in capture values, classified as Model Monitor (Deequ) classifies them.

use super::types::Value;

/// Classifies text as Model Monitor (Deequ) does: integral digits, a fractional number, or a string. Words such as
/// `inf` and `NaN`, which Rust would parse, are strings.
pub fn classify(text: &str) -> Option<Value> {
    let bytes = text.as_bytes();
    let first = *bytes.first()?;
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return None;
    }
    parse_plain_decimal(bytes).or_else(|| classify_parsed(text))
}

/// [`classify`] through the standard library's parser, for what [`parse_plain_decimal`] leaves.
fn classify_parsed(text: &str) -> Option<Value> {
    let bytes = text.as_bytes();
    let first = *bytes.first()?;
    let value: f64 = text.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    let digits = if first == b'-' || first == b'+' {
        &bytes[1..]
    } else {
        bytes
    };
    let integral = !digits.is_empty() && digits.iter().all(u8::is_ascii_digit);
    Some(Value::Number { value, integral })
}

/// Powers of ten that an `f64` holds exactly.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// The common case of [`classify`], without the general parser: an optional sign, digits and at most one `.`, with
/// a mantissa below 2^53 and at most 22 fractional digits. Both the mantissa and the power of ten are then exact,
/// so one IEEE division rounds correctly and gives the very value `str::parse` gives (Clinger's fast path, which
/// the standard library takes too). `None` for anything else, which the general parser then handles.
fn parse_plain_decimal(bytes: &[u8]) -> Option<Value> {
    let (negative, digits) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let mut mantissa = 0u64;
    let mut digit_count = 0usize;
    let mut point = None;
    for (i, &b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                // 19 digits cannot overflow a u64; the mantissa is checked against 2^53 below.
                if digit_count == 19 {
                    return None;
                }
                mantissa = mantissa * 10 + u64::from(b - b'0');
                digit_count += 1;
            }
            b'.' if point.is_none() => point = Some(i),
            _ => return None,
        }
    }
    let fraction_digits = point.map_or(0, |p| digits.len() - p - 1);
    if digit_count == 0 || mantissa >= 1 << 53 || fraction_digits >= EXACT_POWERS_OF_TEN.len() {
        return None;
    }
    let magnitude = mantissa as f64 / EXACT_POWERS_OF_TEN[fraction_digits];
    Some(Value::Number {
        value: if negative { -magnitude } else { magnitude },
        integral: point.is_none(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deequ_value_classification() {
        let num = |s: &str| match classify(s) {
            Some(Value::Number { integral, .. }) => Some(integral),
            _ => None,
        };
        assert_eq!(num("42"), Some(true));
        assert_eq!(num("-7"), Some(true));
        assert_eq!(num("3.0"), Some(false));
        assert_eq!(num("1e5"), Some(false));
        assert_eq!(num("NaN"), None);
        assert_eq!(num("inf"), None);
        assert_eq!(num("abc"), None);
        assert_eq!(num(""), None);
    }

    /// A number's value and type, with the sign of zero, for exact comparisons.
    fn bits(value: Option<Value>) -> Option<(u64, bool)> {
        match value? {
            Value::Number { value, integral } => Some((value.to_bits(), integral)),
            _ => None,
        }
    }

    #[test]
    fn plain_decimals_take_the_fast_path() {
        for text in ["123.456", "-0.001", "+7", "0", "-0", "5.", ".5", "9007199254740991"] {
            assert!(parse_plain_decimal(text.as_bytes()).is_some(), "{text}");
            assert_eq!(bits(classify(text)), bits(classify_parsed(text)), "{text}");
        }
        for text in [
            "",
            "-",
            ".",
            "1.2.3",
            "1e5",
            "9007199254740992",
            "1.00000000000000000000001",
            "--1",
        ] {
            assert!(parse_plain_decimal(text.as_bytes()).is_none(), "{text}");
        }
    }

    proptest::proptest! {
        /// The fast path gives exactly what the standard library's parser gives, sign of zero included.
        #[test]
        fn fast_path_classifies_as_the_standard_parser(
            sign in "[-+]?", int in "[0-9]{0,20}", fraction in proptest::option::of("[0-9]{0,25}"),
        ) {
            let text = format!("{sign}{int}{}", fraction.map(|f| format!(".{f}")).unwrap_or_default());
            proptest::prop_assert_eq!(bits(classify(&text)), bits(classify_parsed(&text)), "{}", text);
        }

        #[test]
        fn fast_path_reads_printed_floats_exactly(value in proptest::num::f64::NORMAL, places in 0usize..17) {
            for text in [format!("{value}"), format!("{value:.places$}")] {
                proptest::prop_assert_eq!(bits(classify(&text)), bits(classify_parsed(&text)), "{}", text);
            }
        }
    }
}
