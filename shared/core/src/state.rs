//! Small JSON state objects over a [`StateStore`]: one typed read, and one compare-and-set update that retries a
//! lost write with jittered exponential backoff, at most [`CAS_ATTEMPTS`] times.
//!
//! Every part that keeps state reads and writes through these: the monitor's window markers, last window and hour
//! profiles, the prediction history, the retraining and version histories. The scaler reads its state here too but
//! writes it once, unretried: that write is its lock, and a run that lost it must not act.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ports::{PortError, PortErrorKind, StateStore, StateVersion};

/// Read-change-write cycles tried before an update gives up on an object other runs keep changing.
pub const CAS_ATTEMPTS: usize = 5;
/// The first retry waits up to this long; each later one up to twice as long as the one before ...
pub const BACKOFF_BASE: Duration = Duration::from_millis(25);
/// ... but never more than this ("full jitter": AWS Architecture Blog, "Exponential Backoff And Jitter").
pub const BACKOFF_CAP: Duration = Duration::from_secs(1);

/// Why a state object could not be read or updated. Each case names the key.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("reading state object {key}")]
    Read {
        key: String,
        #[source]
        source: PortError,
    },
    #[error("writing state object {key}")]
    Write {
        key: String,
        #[source]
        source: PortError,
    },
    #[error("state object {key} is not valid")]
    Invalid {
        key: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("state object {key} kept changing: gave up after {attempts} attempts")]
    Contended { key: String, attempts: usize },
}

impl StateError {
    fn read(key: &str, source: PortError) -> Self {
        Self::Read {
            key: key.to_owned(),
            source,
        }
    }

    /// The object under `key` does not decode.
    pub fn invalid(key: &str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Invalid {
            key: key.to_owned(),
            source: source.into(),
        }
    }
}

/// The JSON a state object is written as.
pub fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec_pretty(value).expect("state values are plain data")
}

/// The object under `key` decoded, with its version; `None` when absent.
///
/// # Errors
///
/// [`StateError::Read`] when the store fails, [`StateError::Invalid`] when the object is not a `T`.
pub fn read_json<T: DeserializeOwned>(
    store: &dyn StateStore,
    key: &str,
) -> Result<Option<(T, StateVersion)>, StateError> {
    let Some((bytes, version)) = store.get(key).map_err(|source| StateError::read(key, source))? else {
        return Ok(None);
    };
    let value = serde_json::from_slice(&bytes).map_err(|e| StateError::invalid(key, e))?;
    Ok(Some((value, version)))
}

/// What a change does with the object it was given.
#[derive(Debug, Clone, PartialEq)]
pub enum Step<R> {
    /// Write the changed object, then return `R`.
    Write(R),
    /// Leave the object as it is and return `R` (nothing to do).
    Keep(R),
}

/// What [`update`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated<R> {
    pub result: R,
    /// The version written; `None` when the change kept the object.
    pub written: Option<StateVersion>,
    /// Read-change-write cycles it took (more than one after lost writes).
    pub attempts: usize,
}

/// Reads `key` (decoded by `decode`, or `default()` when absent), applies `change` and, when it asks to, writes
/// the object back (encoded by `encode`) only if no one wrote it meanwhile. A lost write starts again from the
/// read after a jittered, exponentially growing pause, at most [`CAS_ATTEMPTS`] times; `change` must therefore
/// be a function of the object it is given.
///
/// # Errors
///
/// `change`'s and `decode`'s errors as they are, [`StateError::Read`] and [`StateError::Write`] when the store
/// fails, and
/// [`StateError::Contended`] when every attempt lost.
pub fn update_with<T, R, E>(
    store: &dyn StateStore,
    key: &str,
    decode: impl Fn(&[u8]) -> Result<T, E>,
    encode: impl Fn(&T) -> Result<Vec<u8>, E>,
    default: impl Fn() -> T,
    mut change: impl FnMut(&mut T) -> Result<Step<R>, E>,
) -> Result<Updated<R>, E>
where
    E: From<StateError>,
{
    let mut rng = jitter_rng(key);
    for attempt in 1..=CAS_ATTEMPTS {
        let (mut value, version) = match store.get(key).map_err(|source| StateError::read(key, source))? {
            Some((bytes, version)) => (decode(&bytes)?, Some(version)),
            None => (default(), None),
        };
        let result = match change(&mut value)? {
            Step::Keep(result) => {
                return Ok(Updated {
                    result,
                    written: None,
                    attempts: attempt,
                });
            }
            Step::Write(result) => result,
        };
        match store.put_if(key, &encode(&value)?, version.as_ref()) {
            Ok(written) => {
                return Ok(Updated {
                    result,
                    written: Some(written),
                    attempts: attempt,
                });
            }
            Err(e) if e.kind == PortErrorKind::Conflict => {
                if attempt < CAS_ATTEMPTS {
                    std::thread::sleep(backoff(attempt, &mut rng));
                }
            }
            Err(source) => {
                return Err(StateError::Write {
                    key: key.to_owned(),
                    source,
                }
                .into());
            }
        }
    }
    Err(StateError::Contended {
        key: key.to_owned(),
        attempts: CAS_ATTEMPTS,
    }
    .into())
}

/// [`update_with`] for objects stored as their serde JSON.
///
/// # Errors
///
/// As [`update_with`]; an object that is not a `T` is [`StateError::Invalid`].
pub fn update<T, R, E>(
    store: &dyn StateStore,
    key: &str,
    default: impl Fn() -> T,
    change: impl FnMut(&mut T) -> Result<Step<R>, E>,
) -> Result<Updated<R>, E>
where
    T: Serialize + DeserializeOwned,
    E: From<StateError>,
{
    update_with(
        store,
        key,
        |bytes| serde_json::from_slice(bytes).map_err(|e| StateError::invalid(key, e).into()),
        |value| Ok(to_json(value)),
        default,
        change,
    )
}

/// The pause before retry `attempt` (1-based): uniform in `[0, min(cap, base * 2^(attempt-1))]`.
pub fn backoff(attempt: usize, rng: &mut SmallRng) -> Duration {
    let exponent = u32::try_from(attempt.saturating_sub(1)).unwrap_or(u32::MAX).min(16);
    let ceiling = BACKOFF_BASE.saturating_mul(1 << exponent).min(BACKOFF_CAP);
    ceiling.mul_f64(rng.random::<f64>())
}

/// A generator seeded from the clock and the key, so that two runs contending for one key draw different pauses.
fn jitter_rng(key: &str) -> SmallRng {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes().chain(std::process::id().to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    SmallRng::seed_from_u64(nanos ^ h)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::memory::MemoryState;

    /// A store whose next `losses` conditional writes lose to another writer (who bumps a counter object).
    struct Losing {
        inner: MemoryState,
        losses: Mutex<usize>,
    }

    impl StateStore for Losing {
        fn get(&self, key: &str) -> Result<Option<(Vec<u8>, StateVersion)>, PortError> {
            self.inner.get(key)
        }

        fn put_if(&self, key: &str, body: &[u8], expected: Option<&StateVersion>) -> Result<StateVersion, PortError> {
            let mut losses = self.losses.lock().unwrap();
            if *losses > 0 {
                *losses -= 1;
                let current = read_json::<u32>(&self.inner, key).unwrap();
                let n = current.as_ref().map_or(0, |(n, _)| *n) + 100;
                self.inner.put_if(key, &to_json(&n), current.as_ref().map(|(_, v)| v))?;
            }
            self.inner.put_if(key, body, expected)
        }
    }

    fn increment(n: &mut u32) -> Result<Step<u32>, StateError> {
        *n += 1;
        Ok(Step::Write(*n))
    }

    #[test]
    fn a_lost_write_is_applied_again_to_the_winner_s_object() {
        let store = Losing {
            inner: MemoryState::default(),
            losses: Mutex::new(2),
        };
        let done = update(&store, "n.json", || 0u32, increment).unwrap();
        // Two other writers added 100 each before the third attempt won.
        assert_eq!((done.result, done.attempts), (201, 3));
        assert!(done.written.is_some());
        assert_eq!(read_json::<u32>(&store, "n.json").unwrap().unwrap().0, 201);
    }

    #[test]
    fn a_kept_object_is_not_written_and_contention_has_a_limit() {
        let store = MemoryState::default();
        let kept = update(&store, "k.json", || 7u32, |n| Ok::<_, StateError>(Step::Keep(*n))).unwrap();
        assert_eq!((kept.result, kept.written, kept.attempts), (7, None, 1));
        assert_eq!(store.get("k.json").unwrap(), None, "nothing written");

        let store = Losing {
            inner: MemoryState::default(),
            losses: Mutex::new(usize::MAX),
        };
        let err = update(&store, "n.json", || 0u32, increment).unwrap_err();
        assert!(
            matches!(&err, StateError::Contended { key, attempts } if key == "n.json" && *attempts == CAS_ATTEMPTS),
            "{err}"
        );
    }

    #[test]
    fn an_invalid_object_is_an_error_naming_its_key() {
        let store = MemoryState::default();
        store.put_if("bad.json", b"{not json", None).unwrap();
        let err = read_json::<u32>(&store, "bad.json").unwrap_err();
        assert_eq!(err.to_string(), "state object bad.json is not valid");
        assert!(std::error::Error::source(&err).is_some());
        let err = update(&store, "bad.json", || 0u32, increment).unwrap_err();
        assert!(matches!(err, StateError::Invalid { .. }));
        assert_eq!(
            store.get("bad.json").unwrap().unwrap().0,
            b"{not json",
            "left as it was"
        );
    }

    #[test]
    fn backoff_grows_exponentially_with_full_jitter_and_a_cap() {
        let mut rng = SmallRng::seed_from_u64(1);
        for attempt in 1..=12 {
            let ceiling = BACKOFF_BASE.saturating_mul(1 << (attempt - 1)).min(BACKOFF_CAP);
            let draws: Vec<Duration> = (0..200).map(|_| backoff(attempt, &mut rng)).collect();
            assert!(draws.iter().all(|d| *d <= ceiling), "attempt {attempt}");
            // Full jitter: the draws spread over the whole range, not bunched at the ceiling.
            assert!(draws.iter().any(|d| *d < ceiling / 4) && draws.iter().any(|d| *d > ceiling * 3 / 4));
        }
        assert_eq!(BACKOFF_BASE.saturating_mul(1 << 11).min(BACKOFF_CAP), BACKOFF_CAP);
    }
}
