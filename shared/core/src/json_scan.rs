//! The fast path of the capture and ground-truth readers: a scanner of the plain JSON that SageMaker writes.
//!
//! A capture or ground-truth line as SageMaker writes it is a few nested objects of strings without escapes. For
//! such a line this scanner hands the readers the same borrowed fields serde_json would, at a fraction of the cost
//! (serde_json's derived visitors were a fifth of an evaluation's time). It declines (returns `None`) anything else:
//! a backslash or control character anywhere in the line, a number, array or nested object where a reader does not
//! expect one, a field named twice, trailing text. serde_json then reads the line and decides, so the fast path
//! never accepts a line serde_json would reject nor reads one differently (each reader's tests check this on
//! mutated lines).

/// A position in a line that qualified for the fast path.
pub(crate) struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner of `text`, or `None` when the line has a backslash (an escape, which serde_json must decode) or a
    /// control character (which JSON forbids inside strings; serde_json decides whether it sits between tokens).
    pub(crate) fn new(text: &'a str) -> Option<Self> {
        let plain = text.bytes().fold(true, |plain, b| plain & (b != b'\\') & (b >= 0x20));
        plain.then_some(Scanner { text, at: 0 })
    }

    fn blank(&mut self) {
        let bytes = self.text.as_bytes();
        while self.at < bytes.len() && bytes[self.at] == b' ' {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        self.text[self.at..].starts_with(word).then(|| self.at += word.len())
    }

    /// A string, its content borrowed (it has no escapes).
    pub(crate) fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let len = memchr::memchr(b'"', &self.text.as_bytes()[start..])?;
        self.at = start + len + 1;
        Some(&self.text[start..start + len])
    }

    /// A string, or `null` as `None`.
    pub(crate) fn nullable_string(&mut self) -> Option<Option<&'a str>> {
        if self.peek()? == b'n' {
            self.literal("null")?;
            return Some(None);
        }
        self.string().map(Some)
    }

    /// A value a reader ignores: a string, `true`, `false` or `null` (anything else declines the line).
    pub(crate) fn ignored(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            _ => None,
        }
    }

    /// `true` after `null` (consumed), `false` when the value is something else (not consumed).
    pub(crate) fn null(&mut self) -> Option<bool> {
        if self.peek()? == b'n' {
            self.literal("null")?;
            return Some(true);
        }
        Some(false)
    }

    /// An object: `field` is called with each key and must consume its value. Keys are checked against `keys`: a
    /// known key seen twice declines the line (serde_json rejects a struct field given twice).
    pub(crate) fn object(
        &mut self,
        keys: &[&str],
        mut field: impl FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<()> {
        let mut seen = 0u32;
        self.blank();
        self.eat(b'{')?;
        self.blank();
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            self.blank();
            let key = self.string()?;
            if let Some(i) = keys.iter().position(|k| *k == key) {
                if seen & (1 << i) != 0 {
                    return None;
                }
                seen |= 1 << i;
            }
            self.blank();
            self.eat(b':')?;
            self.blank();
            field(self, key)?;
            self.blank();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Nothing but blanks is left.
    pub(crate) fn end(mut self) -> Option<()> {
        self.blank();
        (self.at == self.text.len()).then_some(())
    }
}

/// `count` lines edited from `lines` the ways a scanner could go wrong (quotes, braces, commas, colons, blanks,
/// backslashes and literal letters inserted; bytes deleted; lines cut short or a piece repeated), for the readers'
/// tests that the fast path agrees with serde_json.
#[cfg(test)]
pub(crate) fn edited_lines(lines: &[&str], seed: u64, count: usize) -> Vec<Vec<u8>> {
    use rand::{Rng, SeedableRng};
    let alphabet = br#""{}:, nul1\[]a"#;
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let mut bytes = lines[rng.random_range(0..lines.len())].as_bytes().to_vec();
            for _ in 0..rng.random_range(0..4) {
                let at = rng.random_range(0..=bytes.len());
                match rng.random_range(0..4) {
                    0 => bytes.insert(at, alphabet[rng.random_range(0..alphabet.len())]),
                    1 if at < bytes.len() => drop(bytes.remove(at)),
                    2 => bytes.truncate(at),
                    _ => {
                        let copy = bytes[at..].to_vec();
                        bytes.extend_from_slice(&copy[..copy.len().min(12)]);
                    }
                }
            }
            bytes
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_plain_objects_and_declines_the_rest() {
        let mut got = Vec::new();
        let mut s = Scanner::new(r#" { "a" : "x" , "b":null, "c":true, "d":{"e":"y"} } "#).unwrap();
        s.object(&["a", "b", "c", "d"], |s, key| match key {
            "a" => s.string().map(|v| got.push(v)),
            "b" => s.nullable_string().map(|v| assert_eq!(v, None)),
            "d" => s.object(&["e"], |s, _| s.string().map(|v| got.push(v))),
            _ => s.ignored(),
        })
        .unwrap();
        assert!(s.end().is_some());
        assert_eq!(got, ["x", "y"]);
        assert!(Scanner::new(r#"{"a":"x\"y"}"#).is_none(), "an escape");
        assert!(Scanner::new("{\"a\":\"x\ty\"}").is_none(), "a control character");
        let declined = |text: &str| {
            let mut s = Scanner::new(text).unwrap();
            s.object(&["a"], |s, _| s.ignored()).and_then(|()| s.end()).is_none()
        };
        assert!(declined(r#"{"a":"x","a":"y"}"#), "a known key twice");
        assert!(declined(r#"{"a":1}"#), "a number");
        assert!(declined(r#"{"a":"x"} x"#), "trailing text");
        assert!(declined(r#"{"a":"x",}"#), "a trailing comma");
        assert!(declined(r#"{"a":"x""#), "no end");
        assert!(declined(r#"{"a":nul}"#), "a broken literal");
        assert!(
            !declined(r#"{"b":"x","b":"y"}"#),
            "an unknown key may repeat, as serde_json allows"
        );
    }
}
