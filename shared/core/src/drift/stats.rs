//! The pure drift statistics: two-sample tests and distances between a baseline and a current window.
//!
//! Drift is computed from stored sketches, never by re-reading training data: a KLL quantile sketch hands
//! out weighted points (a value with weight `2^level`), so every numeric statistic here works on a
//! [`WeightedSample`] rather than on raw values. Categorical statistics work on counts per category, given as
//! `(category, count)` slices whose categories may be missing on either side.
//!
//! What lives here:
//!
//! - [`WeightedSample`]: sorted, merged, weighted points with their CDF, quantiles, mean and spread.
//! - Numeric: [`ks_two_sample`] (exact for small samples, [`ks_exact_sf`], else the limiting Kolmogorov
//!   distribution [`kolmogorov_sf`]) and [`ks_two_sample_summarised`] for sketches with a rank error,
//!   Model Monitor's L-infinity forms [`linf_simple`] and [`linf_robust`], equal-frequency binning
//!   ([`quantile_bin_edges`], [`binned_shares`]) for [`psi`] and [`jensen_shannon_distance`], and
//!   [`wasserstein_1`].
//! - Categorical: [`chi_square_homogeneity`], [`categorical_shares`], [`categorical_psi`],
//!   [`categorical_jensen_shannon_distance`], [`categorical_linf_simple`], [`categorical_linf_robust`] and
//!   [`unseen_share`].
//!
//! One convention runs through the file: when either side has no weight at all there is nothing to compare,
//! so every distance is 0 and every p-value is 1 ("no evidence of drift"). An empty window is a
//! missing-data problem, not a drift problem, and callers detect it with [`WeightedSample::is_empty`] or the
//! totals before asking for a statistic. No function here panics or returns NaN.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// The share given to a bin that is empty on one side before [`psi`] takes its logarithm.
///
/// PSI is infinite as soon as a bin is empty on exactly one side, which is common for a short window.
/// 1e-4 is well below the share any bin holds in the usual 10-bin layout with a few thousand records
/// (1e-3 and more), so it does not blur real bins; and it still makes an emptied bin count: a bin holding
/// 10% of one side and nothing of the other contributes `0.1 * ln(0.1 / 1e-4) ≈ 0.69`, above the customary
/// 0.25 "significant shift" threshold on its own.
pub const PSI_EPSILON: f64 = 1e-4;

/// Deequ's default `c(alpha)` for the robust L-infinity distance.
///
/// Deequ's `Distance.scala` (`defaultCAlpha = 1.8`) takes it from Knuth, TAOCP vol. 2, 3rd ed., §3.3.1
/// eq. (15), where it corresponds to a significance level of about 0.003.
pub const DEEQU_DEFAULT_C_ALPHA: f64 = 1.8;

/// A weighted empirical distribution: the form in which sketches hand out their data.
///
/// Points are sorted by value, equal values are merged (their weights summed), and every weight is positive
/// and finite, so the CDF is a step function with one step per point. Construction sorts once; every query
/// is a binary search over the cumulative weights.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WeightedSample {
    /// `(value, weight)`, strictly increasing in value, weights positive and finite.
    points: Vec<(f64, f64)>,
    /// Running sum of the weights; the last entry is the total weight.
    cumulative: Vec<f64>,
}

impl WeightedSample {
    /// Builds a sample giving each finite value weight 1, as a raw data set would.
    ///
    /// Non-finite values (NaN, infinities) are ignored: missing and malformed values are counted by the
    /// profile's completeness, not by the distribution.
    #[must_use]
    pub fn from_values(values: &[f64]) -> Self {
        Self::from_weighted(values.iter().map(|&v| (v, 1.0)))
    }

    /// Builds a sample from `(value, weight)` pairs, such as a KLL sketch's items with weight `2^level`.
    ///
    /// Pairs whose value is not finite, or whose weight is not finite and positive, are ignored, so a zero
    /// weight simply removes its point. If the weights are so large that their sum overflows `f64`, all of
    /// them are divided by the largest one: every statistic depends on relative weights only, except
    /// [`total_weight`](Self::total_weight) (and so the effective sample size of [`ks_two_sample`]), which
    /// then reports the rescaled total.
    #[must_use]
    pub fn from_weighted(points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        let mut raw: Vec<(f64, f64)> = points
            .into_iter()
            .filter(|&(v, w)| v.is_finite() && w.is_finite() && w > 0.0)
            .collect();
        let total: f64 = raw.iter().map(|p| p.1).sum();
        if !total.is_finite() {
            // Rescaled before merging, so that no merged weight (nor the total) can overflow: each weight is
            // then at most 1 and the total at most the number of points.
            let max = raw.iter().map(|p| p.1).fold(0.0_f64, f64::max);
            for p in &mut raw {
                p.1 /= max;
            }
        }
        raw.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));

        let mut merged: Vec<(f64, f64)> = Vec::with_capacity(raw.len());
        for (v, w) in raw {
            match merged.last_mut() {
                // `==` also merges -0.0 with 0.0, which `total_cmp` placed side by side.
                Some(last) if last.0 == v => last.1 += w,
                _ => merged.push((v, w)),
            }
        }

        let mut cumulative = Vec::with_capacity(merged.len());
        let mut running = 0.0;
        for p in &merged {
            running += p.1;
            cumulative.push(running);
        }
        Self {
            points: merged,
            cumulative,
        }
    }

    /// Total weight: the sample size the sketch stands for (the effective size in the KS test).
    /// 0 for an empty sample.
    #[must_use]
    pub fn total_weight(&self) -> f64 {
        self.cumulative.last().copied().unwrap_or(0.0)
    }

    /// Number of distinct values.
    #[must_use]
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether the sample holds no weight at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The distinct values with their weights, in increasing order of value.
    #[must_use]
    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    /// Cumulative weight of the values `<= x` (0 when none, or when `x` is NaN).
    fn weight_at_or_below(&self, x: f64) -> f64 {
        let idx = self.points.partition_point(|p| p.0 <= x);
        if idx == 0 { 0.0 } else { self.cumulative[idx - 1] }
    }

    /// Share of the weight at values `<= x`: the right-continuous empirical CDF, as `searchsorted(...,
    /// 'right')` computes it in scipy. 0 for an empty sample or a NaN `x`.
    #[must_use]
    pub fn cdf(&self, x: f64) -> f64 {
        let total = self.total_weight();
        if total <= 0.0 {
            return 0.0;
        }
        self.weight_at_or_below(x) / total
    }

    /// The lower inverse of the CDF: the smallest value whose CDF reaches `q`.
    ///
    /// It always returns one of the sample's own values (no interpolation), which is what a sketch can
    /// vouch for and what keeps [`quantile_bin_edges`] on real points. `q` is clamped to `[0, 1]`, so
    /// `quantile(0.0)` is the minimum and `quantile(1.0)` the maximum. `None` for an empty sample or a NaN `q`.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.is_empty() || q.is_nan() {
            return None;
        }
        let q = q.clamp(0.0, 1.0);
        let total = self.total_weight();
        // The last cumulative weight divided by the total is exactly 1 >= q, so the index is in range;
        // `min` only guards the invariant.
        let idx = self.cumulative.partition_point(|&c| c / total < q);
        Some(self.points[idx.min(self.points.len() - 1)].0)
    }

    /// Weighted mean, `None` for an empty sample.
    ///
    /// Computed as `sum(w / W * v)` so that it cannot overflow for values near `f64::MAX`, and is exact for
    /// a single distinct value.
    #[must_use]
    pub fn mean(&self) -> Option<f64> {
        if self.is_empty() {
            return None;
        }
        let total = self.total_weight();
        Some(self.points.iter().map(|&(v, w)| w / total * v).sum())
    }

    /// Population (weight-normalised, not Bessel-corrected) standard deviation, `None` for an empty sample.
    ///
    /// Population, because the sketch *is* the distribution being described, and because the caller
    /// divides [`wasserstein_1`] by the baseline's spread, where a sample correction has no meaning for
    /// weighted points. 0 for a single distinct value.
    #[must_use]
    pub fn std_dev(&self) -> Option<f64> {
        let mean = self.mean()?;
        let total = self.total_weight();
        let variance: f64 = self
            .points
            .iter()
            .map(|&(v, w)| {
                let d = v - mean;
                w / total * d * d
            })
            .sum();
        Some(variance.max(0.0).sqrt())
    }
}

/// A test statistic with its p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// The statistic (for KS, the largest CDF gap D in `[0, 1]`).
    pub statistic: f64,
    /// Probability, under "same distribution", of a statistic at least this large; in `[0, 1]`.
    pub p_value: f64,
}

/// Walks the union of both samples' points in increasing order and calls `visit(x, next_x, F_a(x), F_b(x))`
/// at every distinct value `x` (with `next_x` the following distinct value, if any).
fn walk_union(a: &WeightedSample, b: &WeightedSample, mut visit: impl FnMut(f64, Option<f64>, f64, f64)) {
    let (ta, tb) = (a.total_weight(), b.total_weight());
    let (pa, pb) = (&a.points, &b.points);
    let (mut i, mut j) = (0, 0);
    let (mut ca, mut cb) = (0.0, 0.0);
    while i < pa.len() || j < pb.len() {
        let x = match (pa.get(i), pb.get(j)) {
            (Some(p), Some(q)) => p.0.min(q.0),
            (Some(p), None) => p.0,
            (None, Some(q)) => q.0,
            (None, None) => break,
        };
        if i < pa.len() && pa[i].0 == x {
            ca = a.cumulative[i];
            i += 1;
        }
        if j < pb.len() && pb[j].0 == x {
            cb = b.cumulative[j];
            j += 1;
        }
        let next = match (pa.get(i), pb.get(j)) {
            (Some(p), Some(q)) => Some(p.0.min(q.0)),
            (Some(p), None) => Some(p.0),
            (None, Some(q)) => Some(q.0),
            (None, None) => None,
        };
        visit(x, next, ca / ta, cb / tb);
    }
}

/// Model Monitor's "simple" L-infinity distance between numeric distributions: the KS statistic
/// `D = sup |F_a - F_b|`, in `[0, 1]`.
///
/// Deequ's `Distance.numericalDistance` evaluates the two sketches' CDFs on the union of their keys and
/// takes the largest absolute gap, which is exactly this. 0 when either sample is empty.
#[must_use]
pub fn linf_simple(a: &WeightedSample, b: &WeightedSample) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let mut d = 0.0_f64;
    walk_union(a, b, |_, _, fa, fb| d = d.max((fa - fb).abs()));
    d.clamp(0.0, 1.0)
}

/// Model Monitor's "robust" L-infinity distance: the simple one minus the two-sample KS critical gap,
/// `max(0, linf_simple - 1.8 * sqrt((n + m) / (n m)))`, with `n` and `m` the two sample sizes.
///
/// A gap smaller than what two samples of these sizes show by chance is reported as 0, so small windows do
/// not raise drift on noise. Verified against Deequ (awslabs/deequ, commit 06df31486e6e,
/// `src/main/scala/com/amazon/deequ/analyzers/Distance.scala`, `selectMetrics`, shared by
/// `numericalDistance` and `categoricalLInfinityDistance`):
///
/// ```text
/// if (correctForLowNumberOfSamples) { linfSimple } else {
///   val cAlpha = alpha match { case Some(a) => Math.sqrt(-Math.log(a/2) * 1/2); case None => defaultCAlpha }
///   Math.max(0.0, linfSimple - cAlpha * Math.sqrt((n + m) / (n * m))) }
/// ```
///
/// Note the flag reads backwards: `correctForLowNumberOfSamples = true` returns the *simple* form, and the
/// default `false` returns the robust one. We use the default `c(alpha)` = [`DEEQU_DEFAULT_C_ALPHA`].
/// In `numericalDistance`, `n` and `m` are the sketches' largest ranks (their record counts), i.e. our
/// total weights.
///
/// Returns 0 when `n` or `m` is not a positive finite number (no sample, no evidence), and never more than
/// `simple`.
#[must_use]
pub fn linf_robust(simple: f64, n: f64, m: f64) -> f64 {
    if !(n.is_finite() && m.is_finite() && n > 0.0 && m > 0.0) || simple.is_nan() {
        return 0.0;
    }
    // (n + m) / (n m) written as 1/n + 1/m so that it cannot overflow.
    let allowance = DEEQU_DEFAULT_C_ALPHA * (1.0 / n + 1.0 / m).sqrt();
    (simple - allowance).max(0.0)
}

/// Interior bin edges at the reference's quantiles `1/bins, 2/bins, ..., (bins-1)/bins`, for
/// equal-frequency binning in [`psi`] and [`jensen_shannon_distance`].
///
/// Equal-frequency bins give every bin a useful share of the baseline, where equal-width bins waste bins
/// on the tails. Edges are lower quantiles (actual reference values, see [`WeightedSample::quantile`]);
/// ties make several quantiles equal, so edges are deduplicated, and an edge equal to the reference's
/// maximum is dropped: with bins `(-inf, e0], (e0, e1], ..., (e_last, inf)`, every bin then holds a
/// positive share of the reference, and ties never create an empty bin.
///
/// Returns no edges (a single bin) when `bins <= 1` or the reference is empty; so there can be fewer than
/// `bins - 1` edges.
#[must_use]
pub fn quantile_bin_edges(reference: &WeightedSample, bins: usize) -> Vec<f64> {
    let Some(max) = reference.points.last().map(|p| p.0) else {
        return Vec::new();
    };
    let mut edges: Vec<f64> = Vec::with_capacity(bins.saturating_sub(1));
    for i in 1..bins {
        #[allow(clippy::cast_precision_loss)] // bin counts are far below 2^52
        let q = i as f64 / bins as f64;
        if let Some(e) = reference.quantile(q)
            && e < max
            && edges.last().is_none_or(|&last| e > last)
        {
            edges.push(e);
        }
    }
    edges
}

/// Shares of the sample's weight in the bins `(-inf, e0], (e0, e1], ..., (e_last, inf)`: `edges.len() + 1`
/// shares summing to 1, aligned with the same edges applied to the reference.
///
/// `edges` should be ascending, as [`quantile_bin_edges`] returns them; otherwise the shares are still
/// non-negative and sum to 1 but do not describe those intervals. For an empty sample every share is 0
/// (there is no distribution to describe; [`psi`] and [`jensen_shannon_distance`] then return 0).
#[must_use]
pub fn binned_shares(sample: &WeightedSample, edges: &[f64]) -> Vec<f64> {
    let mut weights = vec![0.0; edges.len() + 1];
    for &(v, w) in &sample.points {
        // Number of edges strictly below v: v lies in (e[k-1], e[k]].
        let k = edges.partition_point(|&e| e < v);
        weights[k] += w;
    }
    let total: f64 = weights.iter().sum();
    if total > 0.0 {
        for w in &mut weights {
            *w /= total;
        }
    }
    weights
}

/// Turns non-negative masses into shares summing to 1. Negative and non-finite entries count as 0, the
/// shorter side is padded with zeros to `len`. `None` when there is no positive mass.
pub(super) fn normalise(masses: &[f64], len: usize) -> Option<Vec<f64>> {
    let mut v: Vec<f64> = (0..len)
        .map(|i| match masses.get(i) {
            Some(&x) if x.is_finite() && x > 0.0 => x,
            _ => 0.0,
        })
        .collect();
    let mut total: f64 = v.iter().sum();
    if !total.is_finite() {
        // Scale down first so that the sum cannot overflow.
        let max = v.iter().copied().fold(0.0_f64, f64::max);
        for x in &mut v {
            *x /= max;
        }
        total = v.iter().sum();
    }
    if total <= 0.0 {
        return None;
    }
    for x in &mut v {
        *x /= total;
    }
    Some(v)
}

/// Population Stability Index, `sum (a - e) ln(a / e)` over aligned bins (or categories).
///
/// Both inputs are first normalised to shares (so raw counts are accepted too). A bin that is empty on
/// either side has its share replaced by `epsilon` ([`PSI_EPSILON`] is the intended value; a non-positive
/// or non-finite `epsilon` falls back to it), and each side is then renormalised to sum to 1 again, so that
/// PSI stays the symmetric Kullback-Leibler divergence of two proper distributions and `psi(x, x) = 0`.
/// Every term is non-negative, so the result is `>= 0` and finite.
///
/// Entries that are negative or not finite count as 0. Slices of different lengths are aligned by position
/// and the shorter one is padded with zeros (a caller bug, but not a reason to panic). Returns 0 when
/// either side has no positive mass.
#[must_use]
pub fn psi(expected_shares: &[f64], actual_shares: &[f64], epsilon: f64) -> f64 {
    let len = expected_shares.len().max(actual_shares.len());
    let (Some(e), Some(a)) = (normalise(expected_shares, len), normalise(actual_shares, len)) else {
        return 0.0;
    };
    let epsilon = if epsilon.is_finite() && epsilon > 0.0 {
        epsilon
    } else {
        PSI_EPSILON
    };
    let smooth = |v: Vec<f64>| -> Vec<f64> {
        let v: Vec<f64> = v.into_iter().map(|x| if x > 0.0 { x } else { epsilon }).collect();
        // Cannot fail: every entry is now positive.
        normalise(&v, v.len()).unwrap_or(v)
    };
    let (e, a) = (smooth(e), smooth(a));
    e.iter()
        .zip(&a)
        .map(|(&e, &a)| (a - e) * (a / e).ln())
        .sum::<f64>()
        .max(0.0)
}

/// Jensen-Shannon distance in base 2 (the square root of the JS divergence), in `[0, 1]`: scipy's
/// `scipy.spatial.distance.jensenshannon(p, q, base=2)`.
///
/// Unlike PSI it needs no epsilon (the mixture is positive wherever either side is) and it is bounded, so
/// one threshold fits every feature. Inputs are normalised to shares first, as scipy does; negative and
/// non-finite entries count as 0, and slices of different lengths are padded with zeros. Returns 0 when
/// either side has no positive mass (scipy returns NaN there).
#[must_use]
pub fn jensen_shannon_distance(p: &[f64], q: &[f64]) -> f64 {
    let len = p.len().max(q.len());
    let (Some(p), Some(q)) = (normalise(p, len), normalise(q, len)) else {
        return 0.0;
    };
    let rel_entr = |x: f64, m: f64| if x > 0.0 { x * (x / m).ln() } else { 0.0 };
    let divergence: f64 = p
        .iter()
        .zip(&q)
        .map(|(&x, &y)| {
            let m = (x + y) / 2.0;
            rel_entr(x, m) + rel_entr(y, m)
        })
        .sum();
    (divergence / std::f64::consts::LN_2 / 2.0).clamp(0.0, 1.0).sqrt()
}

/// First Wasserstein (earth mover's) distance between two weighted samples, `integral |F_a - F_b| dx`:
/// scipy's `wasserstein_distance(u_values, v_values, u_weights, v_weights)`.
///
/// It is in the data's units; the caller divides by the baseline's [`WeightedSample::std_dev`] to get a
/// scale-free drift score. 0 when either sample is empty. Infinite only if the values span more than
/// `f64::MAX`.
#[must_use]
pub fn wasserstein_1(a: &WeightedSample, b: &WeightedSample) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let mut sum = 0.0;
    walk_union(a, b, |x, next, fa, fb| {
        let gap = (fa - fb).abs();
        if let Some(next) = next
            && gap > 0.0
        {
            sum += gap * (next - x);
        }
    });
    sum
}

/// Counts of the union of categories, aligned: category `i` has `reference[i]` and `current[i]`.
pub(super) struct AlignedCounts<'a> {
    pub(super) categories: Vec<&'a str>,
    pub(super) reference: Vec<f64>,
    pub(super) current: Vec<f64>,
}

/// Aligns two `(category, count)` lists over the union of their categories, in lexicographic order so the
/// result is deterministic. Repeated categories are summed; negative and non-finite counts count as 0.
pub(super) fn align<'a>(reference: &[(&'a str, f64)], current: &[(&'a str, f64)]) -> AlignedCounts<'a> {
    let clean = |c: f64| if c.is_finite() && c > 0.0 { c } else { 0.0 };
    let mut table: BTreeMap<&'a str, (f64, f64)> = BTreeMap::new();
    for &(cat, c) in reference {
        table.entry(cat).or_default().0 += clean(c);
    }
    for &(cat, c) in current {
        table.entry(cat).or_default().1 += clean(c);
    }
    let mut aligned = AlignedCounts {
        categories: Vec::with_capacity(table.len()),
        reference: Vec::with_capacity(table.len()),
        current: Vec::with_capacity(table.len()),
    };
    for (cat, (r, c)) in table {
        aligned.categories.push(cat);
        aligned.reference.push(r);
        aligned.current.push(c);
    }
    aligned
}

/// A chi-square test result, with its degrees of freedom.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChiSquareResult {
    /// Pearson's statistic, `>= 0`.
    pub statistic: f64,
    /// Upper-tail probability of the statistic under homogeneity, in `[0, 1]`.
    pub p_value: f64,
    /// Degrees of freedom: (number of categories seen on either side) - 1; 0 in the degenerate cases.
    pub dof: usize,
}

/// Pearson's chi-square test of homogeneity on the 2 x k table (reference, current) x categories, over the
/// union of categories: scipy's `chi2_contingency(table, correction=False)`.
///
/// Expected counts are `row total * column total / grand total`, `dof = k - 1`, and the p-value is the
/// chi-square survival function (statrs). Counts may be fractional (sketch weights). Categories with zero
/// count on both sides are left out (scipy refuses such columns). Degenerate tables return
/// `{ statistic: 0, p_value: 1, dof: 0 }`: a side with no count at all, fewer than two categories with a
/// count (scipy also returns 0, 1, 0 when `dof` is 0), or totals that overflow `f64`.
///
/// Unlike Deequ's `categoricalChiSquareTest`, small categories are not regrouped: callers that need the
/// Cochran/Yates rules apply them before calling.
#[must_use]
pub fn chi_square_homogeneity(reference: &[(&str, f64)], current: &[(&str, f64)]) -> ChiSquareResult {
    const DEGENERATE: ChiSquareResult = ChiSquareResult {
        statistic: 0.0,
        p_value: 1.0,
        dof: 0,
    };
    let t = align(reference, current);
    let row_ref: f64 = t.reference.iter().sum();
    let row_cur: f64 = t.current.iter().sum();
    let grand = row_ref + row_cur;
    if !(row_ref > 0.0 && row_cur > 0.0 && grand.is_finite()) {
        return DEGENERATE;
    }
    let (share_ref, share_cur) = (row_ref / grand, row_cur / grand);
    let mut statistic = 0.0;
    let mut columns = 0_usize;
    for (&r, &c) in t.reference.iter().zip(&t.current) {
        let col = r + c;
        if col <= 0.0 {
            continue;
        }
        columns += 1;
        let (er, ec) = (col * share_ref, col * share_cur);
        statistic += (r - er) * (r - er) / er + (c - ec) * (c - ec) / ec;
    }
    if columns < 2 || !statistic.is_finite() {
        return DEGENERATE;
    }
    let dof = columns - 1;
    #[allow(clippy::cast_precision_loss)] // category counts are far below 2^52
    let p_value = ChiSquared::new(dof as f64).map_or(1.0, |dist| dist.sf(statistic));
    ChiSquareResult {
        statistic: statistic.max(0.0),
        p_value: if p_value.is_nan() { 1.0 } else { p_value.clamp(0.0, 1.0) },
        dof,
    }
}

/// The union of both sides' categories, in the order [`categorical_shares`] aligns them (lexicographic,
/// so that results are deterministic whatever order the counts came in).
#[must_use]
pub fn category_union<'a>(reference: &[(&'a str, f64)], current: &[(&'a str, f64)]) -> Vec<&'a str> {
    align(reference, current).categories
}

/// Aligns two `(category, count)` lists over the union of their categories (in the order of
/// [`category_union`]) and turns counts into shares, each side summing to 1: `(reference, current)`, ready
/// for [`psi`] and [`jensen_shannon_distance`].
///
/// A category missing on one side has share 0 there. Repeated categories are summed; negative and
/// non-finite counts count as 0. A side with no count gets all-zero shares.
#[must_use]
pub fn categorical_shares(reference: &[(&str, f64)], current: &[(&str, f64)]) -> (Vec<f64>, Vec<f64>) {
    let t = align(reference, current);
    let len = t.categories.len();
    (
        normalise(&t.reference, len).unwrap_or_else(|| vec![0.0; len]),
        normalise(&t.current, len).unwrap_or_else(|| vec![0.0; len]),
    )
}

/// [`psi`] over the union of categories (reference as expected, current as actual).
#[must_use]
pub fn categorical_psi(reference: &[(&str, f64)], current: &[(&str, f64)], epsilon: f64) -> f64 {
    let (expected, actual) = categorical_shares(reference, current);
    psi(&expected, &actual, epsilon)
}

/// [`jensen_shannon_distance`] over the union of categories.
#[must_use]
pub fn categorical_jensen_shannon_distance(reference: &[(&str, f64)], current: &[(&str, f64)]) -> f64 {
    let (p, q) = categorical_shares(reference, current);
    jensen_shannon_distance(&p, &q)
}

/// Model Monitor's simple L-infinity distance for categorical data: the largest gap between the two
/// sides' shares of any one category, in `[0, 1]`.
///
/// This is Deequ's `categoricalLInfinityDistance` with `correctForLowNumberOfSamples = true`: it compares
/// per-category shares (`count / total` on the union of keys), not a CDF. 0 when either side has no count.
#[must_use]
pub fn categorical_linf_simple(reference: &[(&str, f64)], current: &[(&str, f64)]) -> f64 {
    let (p, q) = categorical_shares(reference, current);
    if p.iter().all(|&x| x == 0.0) || q.iter().all(|&x| x == 0.0) {
        return 0.0;
    }
    p.iter()
        .zip(&q)
        .map(|(r, c)| (r - c).abs())
        .fold(0.0_f64, f64::max)
        .clamp(0.0, 1.0)
}

/// Model Monitor's robust L-infinity distance for categorical data: [`categorical_linf_simple`] less the
/// sample-size allowance of [`linf_robust`], with `n` and `m` the two sides' total counts (Deequ's
/// `categoricalLInfinityDistance` with the default `correctForLowNumberOfSamples = false`).
#[must_use]
pub fn categorical_linf_robust(reference: &[(&str, f64)], current: &[(&str, f64)]) -> f64 {
    let t = align(reference, current);
    let n: f64 = t.reference.iter().sum();
    let m: f64 = t.current.iter().sum();
    linf_robust(categorical_linf_simple(reference, current), n, m)
}

/// Share of the current window's count that falls in categories the reference never saw (count 0 or
/// absent), in `[0, 1]`.
///
/// New categories are the drift that share-based distances understate (the model has never been trained
/// on them), so they get their own number. 0 when the current window has no count.
#[must_use]
pub fn unseen_share(reference: &[(&str, f64)], current: &[(&str, f64)]) -> f64 {
    let t = align(reference, current);
    let total: f64 = t.current.iter().sum();
    if !(total > 0.0 && total.is_finite()) {
        return 0.0;
    }
    let unseen: f64 = t
        .reference
        .iter()
        .zip(&t.current)
        .filter(|&(&r, _)| r <= 0.0)
        .map(|(_, &c)| c)
        .sum();
    (unseen / total).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::ks::*;
    use proptest::prelude::*;

    // Every reference value below was computed with scipy 1.17.1 / numpy 2.4.6 in /work/.venv-ref, by the call
    // named next to it, on the literal data sets defined here.

    /// 7 values with a triple tie.
    const X7: [f64; 7] = [1.2, 3.4, 3.4, 0.5, 2.2, 5.1, 3.4];
    /// 11 values sharing some points with `X7` (0.5, 2.2, 3.4) and tied among themselves (4.4).
    const Y11: [f64; 11] = [2.0, 3.4, 4.4, 0.5, 6.1, 2.2, 7.0, 3.3, 5.5, 4.4, 1.0];

    /// `a[i] = ((37 i + 11) mod 101) / 4` for `i in 0..200`; Python: `[((i*37+11) % 101)/4 for i in range(200)]`.
    fn a200() -> Vec<f64> {
        (0..200_u32).map(|i| f64::from((i * 37 + 11) % 101) / 4.0).collect()
    }

    /// `b[j] = ((53 j + 7) mod 89) / 4 + 2` for `j in 0..150`; Python: `[((j*53+7) % 89)/4 + 2 for j in range(150)]`.
    fn b150() -> Vec<f64> {
        (0..150_u32).map(|j| f64::from((j * 53 + 7) % 89) / 4.0 + 2.0).collect()
    }

    fn assert_close(actual: f64, expected: f64, rel: f64) {
        let tol = rel * expected.abs().max(f64::MIN_POSITIVE);
        assert!(
            (actual - expected).abs() <= tol,
            "{actual} vs {expected} (relative tolerance {rel})"
        );
    }

    fn assert_abs(actual: f64, expected: f64, abs: f64) {
        assert!(
            (actual - expected).abs() <= abs,
            "{actual} vs {expected} (absolute tolerance {abs})"
        );
    }

    /// The argument `ks_two_sample` gives to `kolmogorov_sf`, recomputed independently.
    fn stephens_lambda(n: f64, m: f64, d: f64) -> f64 {
        let s = (n * m / (n + m)).sqrt();
        (s + 0.12 + 0.11 / s) * d
    }

    // ---------------------------------------------------------------- WeightedSample

    #[test]
    fn construction_sorts_merges_ties_and_drops_unusable_points() {
        let s = WeightedSample::from_values(&[3.0, 1.0, f64::NAN, 3.0, f64::INFINITY, 2.0, -0.0, 0.0]);
        assert_eq!(s.points(), &[(0.0, 2.0), (1.0, 1.0), (2.0, 1.0), (3.0, 2.0)][..]);
        assert_eq!(s.len(), 4);
        assert_eq!(s.total_weight(), 6.0);

        let w = WeightedSample::from_weighted([
            (5.0, 2.0),
            (1.0, 0.0),
            (2.0, -1.0),
            (3.0, f64::NAN),
            (4.0, f64::INFINITY),
            (f64::NEG_INFINITY, 1.0),
            (5.0, 0.5),
        ]);
        assert_eq!(w.points(), &[(5.0, 2.5)][..]);
        assert!(!w.is_empty());

        let empty = WeightedSample::from_weighted([(1.0, 0.0)]);
        assert!(empty.is_empty());
        assert_eq!(empty.len(), 0);
        assert_eq!(empty.total_weight(), 0.0);
    }

    #[test]
    fn cdf_is_right_continuous_and_quantile_is_its_lower_inverse() {
        let s = WeightedSample::from_weighted([(1.0, 1.0), (2.0, 1.0), (3.0, 2.0)]);
        assert_eq!(s.cdf(0.5), 0.0);
        assert_eq!(s.cdf(1.0), 0.25);
        assert_eq!(s.cdf(2.9), 0.5);
        assert_eq!(s.cdf(3.0), 1.0);
        assert_eq!(s.cdf(f64::NAN), 0.0);
        assert_eq!(s.quantile(0.0), Some(1.0));
        assert_eq!(s.quantile(0.25), Some(1.0));
        assert_eq!(s.quantile(0.26), Some(2.0));
        assert_eq!(s.quantile(0.5), Some(2.0));
        assert_eq!(s.quantile(0.51), Some(3.0));
        assert_eq!(s.quantile(1.0), Some(3.0));
        assert_eq!(s.quantile(7.0), Some(3.0));
        assert_eq!(s.quantile(-1.0), Some(1.0));
        assert_eq!(s.quantile(f64::NAN), None);
        let empty = WeightedSample::default();
        assert_eq!(empty.quantile(0.5), None);
        assert_eq!(empty.cdf(1.0), 0.0);
    }

    #[test]
    fn mean_and_population_std_dev_match_numpy() {
        let s = WeightedSample::from_values(&X7);
        // numpy: np.mean(x7), np.std(x7) (ddof=0)
        assert_close(s.mean().unwrap(), 2.742857142857143, 1e-14);
        assert_close(s.std_dev().unwrap(), 1.4420789980908444, 1e-14);

        let w = WeightedSample::from_weighted([(0.5, 1.0), (1.5, 2.0), (1.5, 4.0), (3.0, 8.0), (4.25, 1.0)]);
        // numpy: np.average(u, weights=uw), np.sqrt(np.cov(u, aweights=uw, ddof=0))
        assert_close(w.mean().unwrap(), 2.359375, 1e-14);
        assert_close(w.std_dev().unwrap(), 0.9600160724566021, 1e-14);
    }

    #[test]
    fn mean_and_std_dev_of_degenerate_samples() {
        let empty = WeightedSample::from_values(&[]);
        assert_eq!(empty.mean(), None);
        assert_eq!(empty.std_dev(), None);
        let same = WeightedSample::from_values(&[0.1; 5]);
        assert_eq!(same.mean(), Some(0.1));
        assert_eq!(same.std_dev(), Some(0.0));
        let huge = WeightedSample::from_values(&[f64::MAX, f64::MAX]);
        assert_eq!(huge.mean(), Some(f64::MAX));
    }

    #[test]
    fn overflowing_weights_are_rescaled_not_turned_into_nan() {
        let s = WeightedSample::from_weighted([(1.0, f64::MAX), (2.0, f64::MAX), (2.0, f64::MAX)]);
        assert!(s.total_weight().is_finite());
        assert_close(s.cdf(1.0), 1.0 / 3.0, 1e-15);
        assert_eq!(s.quantile(0.5), Some(2.0));
    }

    // ---------------------------------------------------------------- Kolmogorov-Smirnov

    #[test]
    fn kolmogorov_sf_matches_scipy_kstwobign() {
        // scipy 1.17.1: scipy.stats.kstwobign.sf(lam)
        let table = [
            (0.03, 1.0),
            (0.1, 1.0),
            (0.3, 0.9999906941986655),
            (0.5, 0.9639452436648751),
            (0.8, 0.5441424115741981),
            (0.82, 0.5119717052984973),
            (0.83, 0.4961909953505036),
            (1.0, 0.26999967167735456),
            (1.36, 0.049485876755377876),
            (2.0, 0.0006709252557796953),
            (3.0, 3.045995948942526e-08),
            (5.0, 3.8574996959278356e-22),
        ];
        for (lam, expected) in table {
            let got = kolmogorov_sf(lam);
            assert_abs(got, expected, 1e-10);
            // Far tail: relative precision too, since small p-values are the interesting ones.
            if expected < 1e-3 {
                assert_close(got, expected, 1e-10);
            }
        }
    }

    #[test]
    fn kolmogorov_sf_edges_and_monotonicity() {
        assert_eq!(kolmogorov_sf(0.0), 1.0);
        assert_eq!(kolmogorov_sf(-3.0), 1.0);
        assert_eq!(kolmogorov_sf(f64::NAN), 1.0);
        assert_eq!(kolmogorov_sf(f64::INFINITY), 0.0);
        assert_eq!(kolmogorov_sf(40.0), 0.0);
        let mut previous = 1.0;
        for i in 1..=600 {
            let v = kolmogorov_sf(f64::from(i) / 100.0);
            assert!(v <= previous + 1e-15, "not decreasing at {i}");
            assert!((0.0..=1.0).contains(&v));
            previous = v;
        }
    }

    #[test]
    fn ks_small_samples_use_the_exact_distribution_like_scipy() {
        let (a, b) = (WeightedSample::from_values(&X7), WeightedSample::from_values(&Y11));
        let r = ks_two_sample(&a, &b);
        // scipy 1.17.1: scipy.stats.ks_2samp(x7, y11) (method='auto' is exact here; ties in and across samples)
        assert_abs(r.statistic, 0.3116883116883117, 1e-12);
        assert_abs(r.p_value, 0.671945701357466, 1e-12);

        let (a, b) = (
            WeightedSample::from_values(&a200()),
            WeightedSample::from_values(&b150()),
        );
        let r = ks_two_sample(&a, &b);
        // scipy 1.17.1: scipy.stats.ks_2samp(a200, b150)
        assert_abs(r.statistic, 0.08333333333333333, 1e-12);
        assert_abs(r.p_value, 0.5663139897165717, 1e-12);
        assert_eq!(linf_simple(&a, &b), r.statistic);

        // Equal sizes with ties: c60 = [((i*7+3) % 23)/2 for i in range(60)], d60 = [((i*11+5) % 29)/2 ...].
        let c60: Vec<f64> = (0..60_u32).map(|i| f64::from((i * 7 + 3) % 23) / 2.0).collect();
        let d60: Vec<f64> = (0..60_u32).map(|i| f64::from((i * 11 + 5) % 29) / 2.0).collect();
        let r = ks_two_sample(&WeightedSample::from_values(&c60), &WeightedSample::from_values(&d60));
        // scipy 1.17.1: scipy.stats.ks_2samp(c60, d60)
        assert_abs(r.statistic, 0.2, 1e-12);
        assert_abs(r.p_value, 0.18205691052851009, 1e-12);

        // Unequal sizes in the thousands: e = [((i*7919) % 10007)/10007 for i in range(3000)],
        // f = [((j*104729) % 10009)/10009 + 0.02 for j in range(4500)].
        let e: Vec<f64> = (0..3000_u64).map(|i| ((i * 7919) % 10007) as f64 / 10007.0).collect();
        let f: Vec<f64> = (0..4500_u64)
            .map(|j| ((j * 104_729) % 10009) as f64 / 10009.0 + 0.02)
            .collect();
        let r = ks_two_sample(&WeightedSample::from_values(&e), &WeightedSample::from_values(&f));
        // scipy 1.17.1: scipy.stats.ks_2samp(e, f) (exact; method='asymp' gives 0.337399876990913)
        assert_abs(r.statistic, 0.022111111111111113, 1e-12);
        assert_abs(r.p_value, 0.33887672862633156, 1e-10);
    }

    #[test]
    fn ks_exact_distribution_matches_scipy() {
        // scipy 1.17.1: scipy.stats._stats_py._attempt_exact_2kssamp(n, m, gcd(n, m), h / lcm, 'two-sided')[2]
        let table = [
            (10_000, 10_000, 150.0 / 10_000.0, 0.21055778388518093),
            (10_000, 10_000, 300.0 / 10_000.0, 0.00024659749681697865),
            (20, 30, 7.0 / 60.0, 0.992839205347608),
            (1000, 1500, 100.0 / 3000.0, 0.5101134773185192),
            (9999, 10_000, 1_500_000.0 / 99_990_000.0, 0.2074101052530087),
        ];
        for (n, m, d, expected) in table {
            let p = ks_exact_sf(d, n, m).unwrap();
            assert_abs(p, expected, 1e-10);
            assert_close(p, expected, 1e-8);
            assert_eq!(ks_exact_sf(d, m, n), Some(p), "symmetric in the sizes");
        }
        // Between lattice points the tail is the next point's: P(D >= 0.0101) = P(D >= 0.011) at n = m = 1000.
        assert_eq!(ks_exact_sf(0.0101, 1000, 1000), ks_exact_sf(0.011, 1000, 1000));
        assert_eq!(ks_exact_sf(0.0, 5, 7), Some(1.0));
        assert_eq!(ks_exact_sf(1.0, 5, 7).map(|p| p > 0.0 && p < 0.01), Some(true));
        assert_eq!(ks_exact_sf(0.5, 0, 7), None);
    }

    #[test]
    fn ks_asymptotic_law_is_stephens_corrected_and_close_to_scipy_asymp() {
        // Above 10,000 values per side (or for fractional weights) the limiting law is used.
        // scipy 1.17.1: scipy.stats.kstwobign.sf((sqrt(en) + 0.12 + 0.11/sqrt(en)) * D), en = 7*11/18
        let d = 0.3116883116883117;
        assert_close(
            stephens_lambda(7.0, 11.0, d),
            stephens_lambda(7.0, 11.0, 0.3116883116883117),
            1e-12,
        );
        let p = ks_asymptotic_sf(d, 7.0, 11.0);
        assert_abs(p, 0.713501524931064, 1e-10);
        // scipy 1.17.1: scipy.stats.ks_2samp(x7, y11, method='asymp').pvalue, i.e. kstwo.sf(D, round(en));
        // documented bound for en < 10: |p - p_asymp| <= 0.42 / sqrt(en).
        let en = 7.0 * 11.0 / 18.0_f64;
        let asymp = 0.7338232451923576;
        assert_abs(p, asymp, 0.42 / en.sqrt());
        // The measured reason for Stephens' correction: closer than the plain limiting law,
        // scipy 1.17.1: kstwobign.sf(sqrt(en) * D) = 0.8002360093494963.
        assert!((p - asymp).abs() < (0.8002360093494963_f64 - asymp).abs());

        let d = 0.08333333333333333;
        let p = ks_asymptotic_sf(d, 200.0, 150.0);
        // scipy 1.17.1: scipy.stats.kstwobign.sf((sqrt(en) + 0.12 + 0.11/sqrt(en)) * D), en = 200*150/350
        assert_abs(p, 0.5728481748418488, 1e-10);
        // scipy 1.17.1: scipy.stats.ks_2samp(a200, b150, method='asymp').pvalue
        let en = 200.0 * 150.0 / 350.0_f64;
        let asymp = 0.5604496640849472;
        // documented bound for en >= 10: |p - p_asymp| <= 0.14 / sqrt(en).
        assert_abs(p, asymp, 0.14 / en.sqrt());
        // scipy 1.17.1: kstwobign.sf(sqrt(en) * D) = 0.5910986832399525, farther from asymp.
        assert!((p - asymp).abs() < (0.5910986832399525_f64 - asymp).abs());
        // Fractional total weights cannot use the exact law.
        let half = WeightedSample::from_weighted(X7.iter().map(|&v| (v, 0.5)));
        let r = ks_two_sample(&half, &WeightedSample::from_values(&Y11));
        assert_eq!(r.p_value, ks_asymptotic_sf(r.statistic, 3.5, 11.0));
    }

    #[test]
    fn ks_summarised_lowers_d_by_the_rank_errors_and_adds_their_failure_chance() {
        let (a, b) = (
            WeightedSample::from_values(&a200()),
            WeightedSample::from_values(&b150()),
        );
        let exact = ks_two_sample(&a, &b);
        assert_eq!(
            ks_two_sample_summarised(&a, RankError::EXACT, &b, RankError::EXACT),
            exact
        );
        let err = RankError {
            epsilon: 0.02,
            failure_probability: 1e-3,
        };
        let r = ks_two_sample_summarised(&a, err, &b, err);
        assert_eq!(r.statistic, exact.statistic, "the observed D is reported");
        let lowered = ks_exact_sf(exact.statistic - 0.04, 200, 150).unwrap();
        assert_abs(r.p_value, lowered + 2e-3, 1e-15);
        assert!(r.p_value > exact.p_value);
        // An allowance larger than D leaves no evidence at all.
        let wide = RankError {
            epsilon: 0.5,
            failure_probability: 1e-3,
        };
        assert_eq!(ks_two_sample_summarised(&a, wide, &b, wide).p_value, 1.0);
    }

    #[test]
    fn ks_weighted_equals_ks_on_repeated_values() {
        let weighted = WeightedSample::from_weighted([(1.0, 2.0), (3.0, 4.0), (5.0, 1.0)]);
        let repeated = WeightedSample::from_values(&[1.0, 1.0, 3.0, 3.0, 3.0, 3.0, 5.0]);
        let other = WeightedSample::from_values(&Y11);
        assert_eq!(ks_two_sample(&weighted, &other), ks_two_sample(&repeated, &other));
    }

    #[test]
    fn ks_degenerate_inputs() {
        let empty = WeightedSample::default();
        let one = WeightedSample::from_values(&[1.0]);
        let other = WeightedSample::from_values(&[2.0]);
        let no_evidence = TestResult {
            statistic: 0.0,
            p_value: 1.0,
        };
        assert_eq!(ks_two_sample(&empty, &empty), no_evidence);
        assert_eq!(ks_two_sample(&empty, &one), no_evidence);
        assert_eq!(ks_two_sample(&one, &empty), no_evidence);
        assert_eq!(ks_two_sample(&one, &one), no_evidence);
        let r = ks_two_sample(&one, &other);
        assert_eq!(r.statistic, 1.0);
        assert!((0.0..=1.0).contains(&r.p_value));
        let same = WeightedSample::from_values(&[4.0; 9]);
        assert_eq!(ks_two_sample(&same, &same), no_evidence);
    }

    // ---------------------------------------------------------------- L-infinity (Deequ)

    #[test]
    fn linf_robust_subtracts_deequ_allowance() {
        // 0.5 - 1.8 * sqrt((100 + 100) / (100 * 100))
        assert_close(linf_robust(0.5, 100.0, 100.0), 0.5 - 1.8 * 0.02_f64.sqrt(), 1e-15);
        assert_close(
            linf_robust(0.3, 400.0, 100.0),
            0.3 - 1.8 * (500.0_f64 / 40000.0).sqrt(),
            1e-15,
        );
        assert_eq!(linf_robust(0.1, 100.0, 100.0), 0.0);
        assert_eq!(linf_robust(0.5, 0.0, 100.0), 0.0);
        assert_eq!(linf_robust(0.5, 0.0, 0.0), 0.0);
        assert_eq!(linf_robust(0.5, f64::NAN, 10.0), 0.0);
        assert_eq!(linf_robust(f64::NAN, 10.0, 10.0), 0.0);
    }

    // ---------------------------------------------------------------- binning, PSI, Jensen-Shannon

    #[test]
    fn quantile_edges_match_numpy_inverted_cdf() {
        let edges = quantile_bin_edges(&WeightedSample::from_values(&a200()), 10);
        // numpy 2.4.6: e = np.unique(np.quantile(a200, np.arange(1, 10)/10, method='inverted_cdf'));
        // e[e < a200.max()]
        assert_eq!(edges, vec![2.25, 4.75, 7.25, 10.0, 12.5, 15.0, 17.5, 20.0, 22.5]);
    }

    #[test]
    fn quantile_edges_with_ties_leave_no_empty_reference_bin() {
        let reference = WeightedSample::from_values(&[1.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0]);
        let edges = quantile_bin_edges(&reference, 10);
        // numpy 2.4.6: same recipe as above on [1, 2, 3, 3, 3, 3, 3, 3, 3, 3]
        assert_eq!(edges, vec![1.0, 2.0]);
        let shares = binned_shares(&reference, &edges);
        assert!(shares.iter().all(|&s| s > 0.0), "{shares:?}");
        assert!(quantile_bin_edges(&WeightedSample::from_values(&[5.0; 4]), 10).is_empty());
        assert!(quantile_bin_edges(&WeightedSample::default(), 10).is_empty());
        assert!(quantile_bin_edges(&reference, 1).is_empty());
        assert!(quantile_bin_edges(&reference, 0).is_empty());
    }

    #[test]
    fn binned_shares_match_numpy_and_close_bins_on_the_right() {
        let a = WeightedSample::from_values(&a200());
        let b = WeightedSample::from_values(&b150());
        let edges = quantile_bin_edges(&a, 10);
        // numpy 2.4.6: idx = np.searchsorted(edges, x, side='left'); np.bincount(idx, minlength=10) / len(x)
        let sa = [0.1, 0.1, 0.1, 0.105, 0.1, 0.1, 0.1, 0.095, 0.1, 0.1];
        let sb = [
            0.02,
            0.12,
            0.11333333333333333,
            0.12,
            0.12,
            0.1,
            0.12,
            0.10666666666666667,
            0.12,
            0.06,
        ];
        for (got, want) in binned_shares(&a, &edges).iter().zip(sa) {
            assert_abs(*got, want, 1e-12);
        }
        for (got, want) in binned_shares(&b, &edges).iter().zip(sb) {
            assert_abs(*got, want, 1e-12);
        }
        let on_edge = WeightedSample::from_values(&[1.0, 2.0, 2.5]);
        assert_eq!(
            binned_shares(&on_edge, &[1.0, 2.0]),
            vec![1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]
        );
        assert_eq!(binned_shares(&on_edge, &[]), vec![1.0]);
        assert_eq!(binned_shares(&WeightedSample::default(), &[1.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn psi_matches_reference_formula() {
        let a = WeightedSample::from_values(&a200());
        let b = WeightedSample::from_values(&b150());
        let edges = quantile_bin_edges(&a, 10);
        let (sa, sb) = (binned_shares(&a, &edges), binned_shares(&b, &edges));
        // numpy 2.4.6, the documented recipe: e, a = e/e.sum(), a/a.sum(); zeros -> 1e-4; renormalise;
        // np.sum((a - e) * np.log(a / e))
        assert_close(psi(&sa, &sb, PSI_EPSILON), 0.1687969664654317, 1e-12);
        assert_close(
            psi(&[0.25, 0.25, 0.5], &[0.2, 0.3, 0.5], PSI_EPSILON),
            0.02027325540540821,
            1e-12,
        );
        // An emptied bin: expected [0.5, 0.3, 0.2, 0.0], actual [0.4, 0.3, 0.1, 0.2].
        let with_zero = psi(&[0.5, 0.3, 0.2, 0.0], &[0.4, 0.3, 0.1, 0.2], PSI_EPSILON);
        assert_close(with_zero, 1.6110245332318873, 1e-12);
        // Invalid epsilons fall back to PSI_EPSILON.
        assert_eq!(psi(&[0.5, 0.3, 0.2, 0.0], &[0.4, 0.3, 0.1, 0.2], 0.0), with_zero);
        assert_eq!(psi(&[0.5, 0.3, 0.2, 0.0], &[0.4, 0.3, 0.1, 0.2], f64::NAN), with_zero);
        // Counts are accepted as well as shares.
        assert_close(
            psi(&[25.0, 25.0, 50.0], &[2.0, 3.0, 5.0], PSI_EPSILON),
            0.02027325540540821,
            1e-12,
        );
    }

    #[test]
    fn psi_and_js_degenerate_inputs() {
        assert_eq!(psi(&[], &[], PSI_EPSILON), 0.0);
        assert_eq!(psi(&[0.0, 0.0], &[0.5, 0.5], PSI_EPSILON), 0.0);
        assert_eq!(psi(&[1.0], &[1.0], PSI_EPSILON), 0.0);
        assert_eq!(psi(&[0.5, 0.5], &[0.5, 0.5, 0.0], PSI_EPSILON), 0.0);
        assert_eq!(jensen_shannon_distance(&[], &[]), 0.0);
        assert_eq!(jensen_shannon_distance(&[0.0, 0.0], &[0.5, 0.5]), 0.0);
        assert_eq!(jensen_shannon_distance(&[f64::NAN, -1.0, 2.0], &[0.0, 0.0, 7.0]), 0.0);
        assert_eq!(jensen_shannon_distance(&[0.5, 0.5], &[0.5, 0.5, 0.0]), 0.0);
    }

    #[test]
    fn jensen_shannon_matches_scipy() {
        // scipy 1.17.1: scipy.spatial.distance.jensenshannon(p, q, base=2)
        let cases: [(&[f64], &[f64], f64); 4] = [
            (&[0.1, 0.4, 0.5], &[0.3, 0.3, 0.4], 0.21663402449519667),
            (&[0.5, 0.5, 0.0, 0.0], &[0.0, 0.25, 0.25, 0.5], 0.8097154205210412),
            (&[3.0, 1.0, 0.0, 6.0], &[2.0, 2.0, 2.0, 2.0], 0.4518336495775292),
            (&[1.0, 0.0], &[0.0, 1.0], 1.0),
        ];
        for (p, q, expected) in cases {
            assert_close(jensen_shannon_distance(p, q), expected, 1e-12);
        }
        let a = WeightedSample::from_values(&a200());
        let b = WeightedSample::from_values(&b150());
        let edges = quantile_bin_edges(&a, 10);
        // scipy 1.17.1: jensenshannon(sa, sb, base=2) on the binned shares of a200 and b150 above
        let js = jensen_shannon_distance(&binned_shares(&a, &edges), &binned_shares(&b, &edges));
        assert_close(js, 0.16785680261725686, 1e-12);
    }

    // ---------------------------------------------------------------- Wasserstein

    #[test]
    fn wasserstein_matches_scipy() {
        let w = |a: &[f64], b: &[f64]| wasserstein_1(&WeightedSample::from_values(a), &WeightedSample::from_values(b));
        // scipy 1.17.1: scipy.stats.wasserstein_distance(x7, y11)
        assert_close(w(&X7, &Y11), 0.896103896103896, 1e-9);
        // scipy 1.17.1: scipy.stats.wasserstein_distance(a200, b150)
        assert_close(w(&a200(), &b150()), 0.8320833333333335, 1e-9);

        // scipy 1.17.1: wasserstein_distance([0.5, 1.5, 1.5, 3.0, 4.25], [1.0, 2.0, 3.0, 3.0, 6.5, -1.0],
        //                                    [1, 2, 4, 8, 1], [0.5, 1.5, 2.0, 1.0, 0.25, 3.0])
        let u = WeightedSample::from_weighted([(0.5, 1.0), (1.5, 2.0), (1.5, 4.0), (3.0, 8.0), (4.25, 1.0)]);
        let v =
            WeightedSample::from_weighted([(1.0, 0.5), (2.0, 1.5), (3.0, 2.0), (3.0, 1.0), (6.5, 0.25), (-1.0, 3.0)]);
        assert_close(wasserstein_1(&u, &v), 1.1605113636363638, 1e-9);
        // KLL-like weights 2^level. scipy 1.17.1: wasserstein_distance([10.0, 12.5, 13.0, 20.0],
        //                                    [11.0, 12.5, 19.0], [1, 2, 4, 8], [4, 4, 1])
        let k1 = WeightedSample::from_weighted([(10.0, 1.0), (12.5, 2.0), (13.0, 4.0), (20.0, 8.0)]);
        let k2 = WeightedSample::from_weighted([(11.0, 4.0), (12.5, 4.0), (19.0, 1.0)]);
        assert_close(wasserstein_1(&k1, &k2), 4.044444444444444, 1e-9);
    }

    #[test]
    fn wasserstein_degenerate_inputs() {
        let empty = WeightedSample::default();
        let one = WeightedSample::from_values(&[1.5]);
        assert_eq!(wasserstein_1(&empty, &empty), 0.0);
        assert_eq!(wasserstein_1(&empty, &one), 0.0);
        assert_eq!(wasserstein_1(&one, &one), 0.0);
        assert_eq!(wasserstein_1(&one, &WeightedSample::from_values(&[4.0, 4.0])), 2.5);
        let far = wasserstein_1(
            &WeightedSample::from_values(&[-f64::MAX]),
            &WeightedSample::from_values(&[f64::MAX]),
        );
        assert!(!far.is_nan());
    }

    // ---------------------------------------------------------------- categorical

    #[test]
    fn chi_square_matches_scipy_over_the_union_of_categories() {
        // scipy 1.17.1: scipy.stats.chi2_contingency([[120, 45, 30, 5, 0], [100, 60, 25, 0, 15]],
        //                                            correction=False)  (columns a, b, c, d, e)
        let reference = [("a", 120.0), ("b", 45.0), ("c", 30.0), ("d", 5.0)];
        let current = [("e", 15.0), ("c", 25.0), ("b", 60.0), ("a", 100.0)];
        let r = chi_square_homogeneity(&reference, &current);
        assert_close(r.statistic, 24.415584415584412, 1e-9);
        assert_close(r.p_value, 6.592550051291158e-05, 1e-9);
        assert_eq!(r.dof, 4);

        // scipy 1.17.1: chi2_contingency([[3, 7, 12], [4, 9, 10]], correction=False)  (blue, green, red)
        let r = chi_square_homogeneity(
            &[("red", 12.0), ("green", 7.0), ("blue", 3.0)],
            &[("red", 10.0), ("green", 9.0), ("blue", 4.0)],
        );
        assert_close(r.statistic, 0.5527260535906777, 1e-9);
        assert_close(r.p_value, 0.758537511330067, 1e-9);
        assert_eq!(r.dof, 2);

        // Fractional (sketch-weighted) counts. scipy 1.17.1: chi2_contingency([[2.5, 4.0], [3.0, 1.5]],
        //                                                                     correction=False)
        let r = chi_square_homogeneity(&[("x", 2.5), ("y", 4.0)], &[("x", 3.0), ("y", 1.5)]);
        assert_close(r.statistic, 0.8461538461538461, 1e-9);
        assert_close(r.p_value, 0.3576426779932924, 1e-9);
        assert_eq!(r.dof, 1);
    }

    #[test]
    fn chi_square_degenerate_tables() {
        let degenerate = ChiSquareResult {
            statistic: 0.0,
            p_value: 1.0,
            dof: 0,
        };
        assert_eq!(chi_square_homogeneity(&[("a", 10.0)], &[("a", 3.0)]), degenerate);
        assert_eq!(
            chi_square_homogeneity(&[("a", 10.0), ("b", 0.0)], &[("a", 3.0)]),
            degenerate
        );
        assert_eq!(chi_square_homogeneity(&[], &[("a", 3.0), ("b", 1.0)]), degenerate);
        assert_eq!(chi_square_homogeneity(&[("a", 3.0), ("b", 1.0)], &[]), degenerate);
        assert_eq!(chi_square_homogeneity(&[], &[]), degenerate);
        assert_eq!(chi_square_homogeneity(&[("a", f64::NAN)], &[("b", -2.0)]), degenerate);
        assert_eq!(
            chi_square_homogeneity(&[("a", f64::MAX), ("b", f64::MAX)], &[("a", 1.0)]),
            degenerate
        );
        // A zero column is dropped rather than poisoning the table: same as without it.
        let with_zero = chi_square_homogeneity(&[("a", 4.0), ("b", 6.0), ("z", 0.0)], &[("a", 7.0), ("b", 2.0)]);
        let without = chi_square_homogeneity(&[("a", 4.0), ("b", 6.0)], &[("a", 7.0), ("b", 2.0)]);
        assert_eq!(with_zero, without);
        assert_eq!(with_zero.dof, 1);
    }

    #[test]
    fn categorical_shares_align_over_the_union() {
        let reference = [("b", 3.0), ("a", 1.0), ("b", 1.0), ("neg", -5.0)];
        let current = [("c", 2.0), ("a", 2.0)];
        assert_eq!(category_union(&reference, &current), vec!["a", "b", "c", "neg"]);
        let (r, c) = categorical_shares(&reference, &current);
        assert_eq!(r, vec![0.2, 0.8, 0.0, 0.0]);
        assert_eq!(c, vec![0.5, 0.0, 0.5, 0.0]);
        let (r, c) = categorical_shares(&[], &current);
        assert_eq!(r, vec![0.0, 0.0]);
        assert_eq!(c, vec![0.5, 0.5]);
        // The categorical wrappers are the numeric functions on these shares.
        let (r, c) = categorical_shares(&reference, &current);
        assert_eq!(
            categorical_psi(&reference, &current, PSI_EPSILON),
            psi(&r, &c, PSI_EPSILON)
        );
        assert_eq!(
            categorical_jensen_shannon_distance(&reference, &current),
            jensen_shannon_distance(&r, &c)
        );
        assert!(categorical_psi(&reference, &current, PSI_EPSILON) > 1.0);
    }

    #[test]
    fn categorical_linf_follows_deequ() {
        // Shares: reference [0.5, 0.5, 0], current [0.3, 0.5, 0.2]; largest gap 0.2.
        let reference = [("a", 50.0), ("b", 50.0)];
        let current = [("a", 30.0), ("b", 50.0), ("c", 20.0)];
        assert_close(categorical_linf_simple(&reference, &current), 0.2, 1e-15);
        // 0.2 - 1.8 * sqrt(1/100 + 1/100) < 0
        assert_eq!(categorical_linf_robust(&reference, &current), 0.0);
        let reference = [("a", 5000.0), ("b", 5000.0)];
        let current = [("a", 3000.0), ("b", 5000.0), ("c", 2000.0)];
        // 0.2 - 1.8 * sqrt(2 / 10000)
        assert_close(
            categorical_linf_robust(&reference, &current),
            0.2 - 1.8 * 2e-4_f64.sqrt(),
            1e-12,
        );
        assert_eq!(categorical_linf_simple(&[], &current), 0.0);
        assert_eq!(categorical_linf_robust(&[], &current), 0.0);
        assert_eq!(categorical_linf_simple(&[("x", 1.0)], &[("y", 1.0)]), 1.0);
    }

    #[test]
    fn unseen_share_counts_only_categories_the_reference_never_saw() {
        let reference = [("a", 50.0), ("b", 50.0), ("z", 0.0)];
        let current = [("a", 30.0), ("b", 40.0), ("c", 20.0), ("z", 10.0)];
        assert_close(unseen_share(&reference, &current), 0.3, 1e-15);
        assert_eq!(unseen_share(&reference, &[("a", 4.0)]), 0.0);
        assert_eq!(unseen_share(&reference, &[]), 0.0);
        assert_eq!(unseen_share(&[], &[("q", 2.0)]), 1.0);
    }

    // ---------------------------------------------------------------- properties

    /// Weighted points on a coarse grid, so that ties within and across samples are frequent; weights
    /// include 0 (dropped) and KLL-like powers of two.
    fn weighted_points() -> impl Strategy<Value = Vec<(f64, f64)>> {
        prop::collection::vec(
            (
                (-40_i32..40).prop_map(|v| f64::from(v) / 4.0),
                prop_oneof![
                    Just(0.0),
                    (0_u32..6).prop_map(|l| f64::from(1_u32 << l)),
                    0.01_f64..10.0
                ],
            ),
            0..40,
        )
    }

    fn shares() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(prop_oneof![Just(0.0), 0.0_f64..1.0], 1..12)
    }

    fn counts() -> impl Strategy<Value = Vec<(String, f64)>> {
        prop::collection::vec(
            (
                "[a-f]",
                prop_oneof![Just(0.0), (0_u32..1000).prop_map(f64::from), 0.0_f64..50.0],
            ),
            0..10,
        )
    }

    fn as_refs(v: &[(String, f64)]) -> Vec<(&str, f64)> {
        v.iter().map(|(k, c)| (k.as_str(), *c)).collect()
    }

    proptest! {
        #[test]
        fn psi_of_a_distribution_with_itself_is_zero(x in shares()) {
            prop_assert_eq!(psi(&x, &x, PSI_EPSILON), 0.0);
        }

        #[test]
        fn psi_is_finite_and_non_negative(x in shares(), y in shares()) {
            let v = psi(&x, &y, PSI_EPSILON);
            prop_assert!(v.is_finite() && v >= 0.0, "{}", v);
        }

        #[test]
        fn js_of_a_distribution_with_itself_is_zero(x in shares()) {
            prop_assert_eq!(jensen_shannon_distance(&x, &x), 0.0);
        }

        #[test]
        fn js_is_symmetric_and_bounded(x in shares(), y in shares()) {
            let xy = jensen_shannon_distance(&x, &y);
            let yx = jensen_shannon_distance(&y, &x);
            prop_assert!((0.0..=1.0).contains(&xy), "{}", xy);
            prop_assert!((xy - yx).abs() <= 1e-12, "{} vs {}", xy, yx);
        }

        #[test]
        fn ks_of_a_sample_with_itself_is_zero_with_p_one(p in weighted_points()) {
            let s = WeightedSample::from_weighted(p);
            let r = ks_two_sample(&s, &s);
            prop_assert_eq!(r, TestResult { statistic: 0.0, p_value: 1.0 });
            prop_assert_eq!(wasserstein_1(&s, &s), 0.0);
        }

        #[test]
        fn ks_is_symmetric_and_in_range(p in weighted_points(), q in weighted_points()) {
            let (a, b) = (WeightedSample::from_weighted(p), WeightedSample::from_weighted(q));
            let (ab, ba) = (ks_two_sample(&a, &b), ks_two_sample(&b, &a));
            prop_assert_eq!(ab, ba);
            prop_assert!((0.0..=1.0).contains(&ab.statistic));
            prop_assert!((0.0..=1.0).contains(&ab.p_value));
            let (wab, wba) = (wasserstein_1(&a, &b), wasserstein_1(&b, &a));
            prop_assert!(wab >= 0.0 && (wab - wba).abs() <= 1e-9 * wab.max(1.0));
        }

        #[test]
        fn quantile_is_the_lower_inverse_of_the_cdf(p in weighted_points(), q in 0.0_f64..=1.0) {
            let s = WeightedSample::from_weighted(p);
            match s.quantile(q) {
                None => prop_assert!(s.is_empty()),
                Some(x) => {
                    prop_assert!(s.cdf(x) >= q - 1e-12);
                    // Any smaller point has a CDF below q.
                    let below = s.points().iter().rev().find(|pt| pt.0 < x);
                    if let Some(&(y, _)) = below {
                        prop_assert!(s.cdf(y) < q + 1e-12);
                    }
                }
            }
        }

        #[test]
        fn binned_shares_sum_to_one(p in weighted_points(), q in weighted_points(), bins in 0_usize..12) {
            let (a, b) = (WeightedSample::from_weighted(p), WeightedSample::from_weighted(q));
            let edges = quantile_bin_edges(&a, bins);
            prop_assert!(edges.windows(2).all(|w| w[0] < w[1]));
            for s in [&a, &b] {
                let shares = binned_shares(s, &edges);
                prop_assert_eq!(shares.len(), edges.len() + 1);
                if !s.is_empty() {
                    prop_assert!((shares.iter().sum::<f64>() - 1.0).abs() <= 1e-12);
                }
            }
            // Every reference bin is populated.
            if !a.is_empty() {
                prop_assert!(binned_shares(&a, &edges).iter().all(|&x| x > 0.0));
            }
        }

        #[test]
        fn chi_square_is_well_formed(r in counts(), c in counts()) {
            let res = chi_square_homogeneity(&as_refs(&r), &as_refs(&c));
            prop_assert!(res.statistic >= 0.0 && res.statistic.is_finite(), "{:?}", res);
            prop_assert!((0.0..=1.0).contains(&res.p_value), "{:?}", res);
        }

        #[test]
        fn categorical_shares_sum_to_one(r in counts(), c in counts()) {
            let (r, c) = (as_refs(&r), as_refs(&c));
            let (rs, cs) = categorical_shares(&r, &c);
            prop_assert_eq!(rs.len(), cs.len());
            for (shares, raw) in [(&rs, &r), (&cs, &c)] {
                let total: f64 = raw.iter().map(|x| x.1).sum();
                let sum: f64 = shares.iter().sum();
                if total > 0.0 {
                    prop_assert!((sum - 1.0).abs() <= 1e-12, "{}", sum);
                } else {
                    prop_assert_eq!(sum, 0.0);
                }
            }
            let unseen = unseen_share(&r, &c);
            prop_assert!((0.0..=1.0).contains(&unseen));
        }

        #[test]
        fn robust_linf_never_exceeds_simple(
            simple in 0.0_f64..=1.0,
            n in 0.0_f64..1e6,
            m in 0.0_f64..1e6,
            r in counts(),
            c in counts(),
        ) {
            let robust = linf_robust(simple, n, m);
            prop_assert!((0.0..=simple).contains(&robust), "{} > {}", robust, simple);
            let (r, c) = (as_refs(&r), as_refs(&c));
            let cat_simple = categorical_linf_simple(&r, &c);
            let cat_robust = categorical_linf_robust(&r, &c);
            prop_assert!((0.0..=1.0).contains(&cat_simple));
            prop_assert!((0.0..=cat_simple).contains(&cat_robust));
        }
    }
}
