//! The further drift methods that users of Evidently, NannyML and scipy expect (issue 13), over the same inputs as
//! [`super::stats`]: [`WeightedSample`]s for numbers, `(category, count)` slices for strings.
//!
//! - Distances on the quantile bins of PSI (numbers) or on category shares (strings): [`hellinger_distance`],
//!   [`kl_divergence`] and their categorical forms.
//! - Numeric tests and distances: [`cramer_von_mises`], [`anderson_darling`], [`energy_distance`],
//!   [`mann_whitney_u`], [`welch_t_test`] and the one-sided Kolmogorov-Smirnov test [`ks_one_sided`].
//! - Categorical tests: [`g_test`], [`chi_square_goodness_of_fit`] (Evidently's chi-square, beside the test of
//!   homogeneity [`super::stats::chi_square_homogeneity`]) and [`fisher_exact`] for two categories.
//! - [`numeric`] and [`categorical`]: the one method a feature's configuration chose, with the scores it adds.
//!   These methods are computed only when chosen, so reports that do not ask for them stay as they were.
//!
//! Weighted points stand for repeated values, as everywhere in the drift statistics: a point of weight 3 is three
//! equal values. For integer weights every rank statistic here therefore equals scipy's on the expanded data set
//! (ties included), and a KLL sketch's total weight is its record count. The conventions of [`super::stats`] hold:
//! with either side empty a distance is 0 and a p-value 1, and nothing here panics or returns NaN. A statistic can
//! be infinite where scipy's is (a current category the baseline calls impossible); [`Chosen::scores`] leaves
//! such values out, since JSON has no infinity.

use std::f64::consts::PI;

use statrs::distribution::{ChiSquared, ContinuousCDF};
use statrs::function::{beta, erf, factorial, gamma};

use super::Method;
use super::stats::{self, ChiSquareResult, TestResult, WeightedSample};

/// Euler-Mascheroni constant.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Up to this pooled size the harmonic sums of [`anderson_darling`]'s variance are summed term by term, as scipy
/// does; above it their asymptotic expansions are used (relative error below 1e-10 there, see the tests).
const ANDERSON_DARLING_EXACT_SUMS: f64 = 1e6;

/// scipy's `anderson_ksamp` interpolates `ln(p)` with a quadratic in the standardised statistic, fitted to the
/// critical values of Scholz and Stephens (1987, table 2) for `m = k - 1 = 1`:
/// `critical = b0 + b1 / sqrt(m) + b2 / m` at significance levels 0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001.
// 2.718 is 1.96 + 1.149 - 0.391, not Euler's number.
#[allow(clippy::approx_constant)]
const ANDERSON_DARLING_CRITICAL: [f64; 7] = [
    0.325_000_000_000_000_07,
    1.226,
    1.960_999_999_999_999_9,
    2.718,
    3.752,
    4.592,
    6.546,
];

/// The quadratic's coefficients, highest power first. numpy 2.4.6:
/// `np.polyfit(ANDERSON_DARLING_CRITICAL, np.log([0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001]), 2)`.
pub const ANDERSON_DARLING_LOG_P_FIT: [f64; 3] = [
    0.018_198_094_574_111_47,
    -1.008_226_564_465_251_5,
    -1.077_770_279_820_484,
];

/// The largest p-value [`anderson_darling`] reports: scipy caps it at the highest tabulated level.
pub const ANDERSON_DARLING_P_CAP: f64 = 0.25;
/// The smallest p-value [`anderson_darling`] reports: scipy floors it at the lowest tabulated level.
pub const ANDERSON_DARLING_P_FLOOR: f64 = 0.001;

/// Relative tolerance within which two hypergeometric probabilities count as equal in [`fisher_exact`]'s
/// two-sided sum (R's `fisher.test` uses the same; scipy uses 1e-14 with exact `hypergeom.pmf`).
pub const FISHER_RELATIVE_TOLERANCE: f64 = 1e-7;

// ------------------------------------------------------------------------------------------------ shares

/// Hellinger distance between two distributions given as shares (or counts) over aligned bins, in `[0, 1]`:
/// `sqrt(sum (sqrt(p) - sqrt(q))^2) / sqrt(2)`, as Evidently's `hellinger` computes it.
///
/// Numbers use the baseline's quantile bins of PSI and Jensen-Shannon ([`stats::quantile_bin_edges`],
/// [`stats::binned_shares`]), strings the category shares ([`categorical_hellinger_distance`]). Like
/// Jensen-Shannon it is bounded and needs no epsilon. Inputs are normalised first; 0 when either side has no
/// positive mass.
#[must_use]
pub fn hellinger_distance(p: &[f64], q: &[f64]) -> f64 {
    let len = p.len().max(q.len());
    let (Some(p), Some(q)) = (stats::normalise(p, len), stats::normalise(q, len)) else {
        return 0.0;
    };
    let sum: f64 = p.iter().zip(&q).map(|(&x, &y)| (x.sqrt() - y.sqrt()).powi(2)).sum();
    (sum / 2.0).sqrt().clamp(0.0, 1.0)
}

/// [`hellinger_distance`] over the union of categories.
#[must_use]
pub fn categorical_hellinger_distance(reference: &[(&str, f64)], current: &[(&str, f64)]) -> f64 {
    let (p, q) = stats::categorical_shares(reference, current);
    hellinger_distance(&p, &q)
}

/// Kullback-Leibler divergence of the current distribution from the reference one, `sum r ln(r / c)` (natural
/// log), over aligned bins: Evidently's `kl_div`, `scipy.stats.entropy(reference, current)`.
///
/// The direction is Evidently's: the reference is the distribution the current one is measured against. A bin
/// that is empty on either side gets share `epsilon` exactly as in [`stats::psi`] (shares normalised, zeros
/// replaced by `epsilon`, [`stats::PSI_EPSILON`] when `epsilon` is not positive and finite, then renormalised),
/// so the result is finite. PSI is this divergence plus the reverse one. 0 when either side has no positive mass.
#[must_use]
pub fn kl_divergence(reference_shares: &[f64], current_shares: &[f64], epsilon: f64) -> f64 {
    let len = reference_shares.len().max(current_shares.len());
    let (Some(r), Some(c)) = (
        stats::normalise(reference_shares, len),
        stats::normalise(current_shares, len),
    ) else {
        return 0.0;
    };
    let epsilon = if epsilon.is_finite() && epsilon > 0.0 {
        epsilon
    } else {
        stats::PSI_EPSILON
    };
    let smooth = |v: Vec<f64>| -> Vec<f64> {
        let v: Vec<f64> = v.into_iter().map(|x| if x > 0.0 { x } else { epsilon }).collect();
        stats::normalise(&v, v.len()).unwrap_or(v)
    };
    let (r, c) = (smooth(r), smooth(c));
    r.iter().zip(&c).map(|(&r, &c)| r * (r / c).ln()).sum::<f64>().max(0.0)
}

/// [`kl_divergence`] over the union of categories (reference against current).
#[must_use]
pub fn categorical_kl_divergence(reference: &[(&str, f64)], current: &[(&str, f64)], epsilon: f64) -> f64 {
    let (r, c) = stats::categorical_shares(reference, current);
    kl_divergence(&r, &c, epsilon)
}

// ------------------------------------------------------------------------------------------------ pooled samples

/// One distinct value of the pooled sample: the weight each side holds at it and strictly below it.
#[derive(Debug, Clone, Copy)]
struct Pooled {
    value: f64,
    a: f64,
    b: f64,
    a_below: f64,
    b_below: f64,
}

/// The distinct values of both samples, in increasing order.
fn pool(a: &WeightedSample, b: &WeightedSample) -> Vec<Pooled> {
    let (pa, pb) = (a.points(), b.points());
    let mut out = Vec::with_capacity(pa.len() + pb.len());
    let (mut i, mut j) = (0, 0);
    let (mut a_below, mut b_below) = (0.0, 0.0);
    while i < pa.len() || j < pb.len() {
        let value = match (pa.get(i), pb.get(j)) {
            (Some(p), Some(q)) => p.0.min(q.0),
            (Some(p), None) => p.0,
            (None, Some(q)) => q.0,
            (None, None) => break,
        };
        let mut point = Pooled {
            value,
            a: 0.0,
            b: 0.0,
            a_below,
            b_below,
        };
        if pa.get(i).is_some_and(|p| p.0 == value) {
            point.a = pa[i].1;
            i += 1;
        }
        if pb.get(j).is_some_and(|p| p.0 == value) {
            point.b = pb[j].1;
            j += 1;
        }
        a_below += point.a;
        b_below += point.b;
        out.push(point);
    }
    out
}

const NO_EVIDENCE: TestResult = TestResult {
    statistic: 0.0,
    p_value: 1.0,
};

fn clamp_p(p: f64) -> f64 {
    if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) }
}

/// Upper tail of the standard normal distribution.
fn normal_sf(z: f64) -> f64 {
    0.5 * erf::erfc(z / std::f64::consts::SQRT_2)
}

// ------------------------------------------------------------------------------------------------ Cramér-von Mises

/// Sum of `(c - j)^2` for `j = 1..=len`, in closed form so that it also holds for fractional weights `len`.
fn squared_offsets(c: f64, len: f64) -> f64 {
    len * c * c - c * len * (len + 1.0) + len * (len + 1.0) * (2.0 * len + 1.0) / 6.0
}

/// Cramér-von Mises two-sample test: scipy's `cramervonmises_2samp(a, b, method='asymptotic')`.
///
/// The statistic is scipy's `T` (Anderson 1962, eq. 9) from the midranks of the pooled sample, so ties are
/// handled as scipy handles them; for weighted points the midrank sums are taken in closed form, which equals
/// scipy on the expanded data for integer weights. The p-value is the asymptotic one: `T` standardised by its
/// exact mean and variance (eqs. 11, 14, 15) and referred to the limiting distribution [`cramer_von_mises_cdf`],
/// with p = 1 below 0.003 as scipy does.
///
/// scipy's default `method='auto'` switches to the exact null distribution when both samples hold at most 20
/// values. That distribution is over integer sample sizes without ties, which sketches do not give, so only the
/// asymptotic p-value is implemented; scipy's own example (7 against 6 values) gives 0.297 asymptotic against
/// 0.316 exact, so treat p-values of a few dozen records as indicative. Returns statistic 0 and p-value 1 when
/// either side has fewer than two units of weight (scipy refuses such samples).
#[must_use]
pub fn cramer_von_mises(a: &WeightedSample, b: &WeightedSample) -> TestResult {
    let (nx, ny) = (a.total_weight(), b.total_weight());
    if nx < 2.0 || ny < 2.0 {
        return NO_EVIDENCE;
    }
    let (mut sum_x, mut sum_y) = (0.0, 0.0);
    for p in pool(a, b) {
        let mid = (p.a + p.b + 1.0) / 2.0;
        sum_x += squared_offsets(p.b_below + mid, p.a);
        sum_y += squared_offsets(p.a_below + mid, p.b);
    }
    let u = nx * sum_x + ny * sum_y;
    let (k, n) = (nx * ny, nx + ny);
    let t = u / (k * n) - (4.0 * k - 1.0) / (6.0 * n);

    let et = (1.0 + 1.0 / n) / 6.0;
    let vt = (n + 1.0) * (4.0 * k * n - 3.0 * (nx * nx + ny * ny) - 2.0 * k) / (45.0 * n * n * 4.0 * k);
    let tn = 1.0 / 6.0 + (t - et) / (45.0 * vt).sqrt();
    let p_value = if tn >= 0.003 {
        (1.0 - cramer_von_mises_cdf(tn)).max(0.0)
    } else {
        1.0
    };
    TestResult {
        statistic: if t.is_finite() { t } else { 0.0 },
        p_value: clamp_p(p_value),
    }
}

/// The limiting distribution function of the Cramér-von Mises statistic: scipy's `_cdf_cvm_inf`
/// (Csörgő and Faraway 1996, eq. 1.2), summed until a term falls below 1e-7 as scipy does.
///
/// Like scipy's, it is not accurate for `x > 4` or so, where it is within a few 1e-7 of 1. 0 for `x <= 0` or NaN.
#[must_use]
pub fn cramer_von_mises_cdf(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return 0.0;
    }
    if x.is_infinite() {
        return 1.0;
    }
    let mut total = 0.0;
    for k in 0..1000_u32 {
        let k = f64::from(k);
        let u = (gamma::ln_gamma(k + 0.5) - gamma::ln_gamma(k + 1.0)).exp() / (PI.powf(1.5) * x.sqrt());
        let y = 4.0 * k + 1.0;
        let q = y * y / (16.0 * x);
        let term = u * y.sqrt() * scaled_bessel_k_quarter(q);
        total += term;
        if term.abs() < 1e-7 {
            break;
        }
    }
    total.clamp(0.0, 1.0)
}

/// `exp(-q) * K_{1/4}(q)`, the modified Bessel function of the second kind of order 1/4 times `exp(-q)`, for
/// `q > 0`: scipy's `np.exp(-q) * kv(0.25, q)`.
///
/// From the integral `K_nu(q) = int_0^inf exp(-q cosh t) cosh(nu t) dt`, whose integrand decays doubly
/// exponentially, so the trapezoidal rule converges geometrically; with `exp(-q)` folded in as
/// `exp(-q (1 + cosh t))` it cannot overflow or underflow prematurely.
fn scaled_bessel_k_quarter(q: f64) -> f64 {
    if q.is_nan() || q <= 0.0 {
        return 0.0;
    }
    // The integrand is analytic in the strip |Im t| < pi / 2, so with step 1/32 the rule's error is of order
    // exp(-pi^2 * 32), far below rounding. Summing stops once a term is negligible against the sum (past the peak:
    // before it, every term is at least exp(-2q) times the first); t = 64 covers any q above 1e-25.
    const STEP: f64 = 1.0 / 32.0;
    let mut sum = 0.0;
    for i in 0..=2048_u32 {
        let t = f64::from(i) * STEP;
        let f = (-q * (1.0 + t.cosh())).exp() * (0.25 * t).cosh();
        sum += if i == 0 { f / 2.0 } else { f };
        if f <= 1e-18 * sum {
            break;
        }
    }
    sum * STEP
}

// ------------------------------------------------------------------------------------------------ Anderson-Darling

/// Anderson-Darling k-sample test for k = 2 (Scholz and Stephens 1987): scipy's
/// `anderson_ksamp([a, b], variant='midrank')`.
///
/// The statistic is scipy's standardised `A2 = (A2akN - (k - 1)) / sigma`, with the midrank form `A2akN` (eq. 7)
/// that allows ties and the exact variance `sigma^2` under the null (eq. 4). For weighted points the midranks
/// come from the pooled weights, which equals scipy on the expanded data for integer weights. scipy's harmonic
/// sums `h` and `g` are summed term by term up to a pooled size of 10^6 and from their asymptotic expansions
/// above (`g = pi^2 / 6 - (2 ln N + 2 gamma + 1) / N`).
///
/// The p-value is scipy's interpolation, `exp` of a quadratic fitted to `ln` of the tabulated significance levels
/// (see [`ANDERSON_DARLING_LOG_P_FIT`]), and like scipy's it is **capped at 0.25** ([`ANDERSON_DARLING_P_CAP`])
/// below the smallest critical value and **floored at 0.001** ([`ANDERSON_DARLING_P_FLOOR`]) above the largest:
/// a p-value of 0.25 means "at least 0.25", 0.001 "at most 0.001". Drift at p < 0.05 is well inside the
/// tabulated range. scipy warns in those two cases; this function reports the bound silently.
///
/// Returns statistic 0 and p-value 1 when either side is empty, the pooled sample holds fewer than 4 units of
/// weight (the variance is undefined) or a single distinct value (scipy raises on both).
#[must_use]
pub fn anderson_darling(a: &WeightedSample, b: &WeightedSample) -> TestResult {
    let (na, nb) = (a.total_weight(), b.total_weight());
    let n = na + nb;
    let pooled = pool(a, b);
    if na <= 0.0 || nb <= 0.0 || n < 4.0 || pooled.len() < 2 || !n.is_finite() {
        return NO_EVIDENCE;
    }
    let mut a2akn = 0.0;
    for p in &pooled {
        let lj = p.a + p.b;
        let bj = p.a_below + p.b_below + lj / 2.0;
        let denominator = bj * (n - bj) - n * lj / 4.0;
        for (mij, ni) in [(p.a_below + p.a / 2.0, na), (p.b_below + p.b / 2.0, nb)] {
            let d = n * mij - bj * ni;
            a2akn += lj / n * d * d / denominator / ni;
        }
    }
    a2akn *= (n - 1.0) / n;

    let k = 2.0_f64;
    let big_h = 1.0 / na + 1.0 / nb;
    let (h, g) = harmonic_sums(n);
    let ca = (4.0 * g - 6.0) * (k - 1.0) + (10.0 - 6.0 * g) * big_h;
    let cb = (2.0 * g - 4.0) * k * k + 8.0 * h * k + (2.0 * g - 14.0 * h - 4.0) * big_h - 8.0 * h + 4.0 * g - 6.0;
    let cc = (6.0 * h + 2.0 * g - 2.0) * k * k + (4.0 * h - 4.0 * g + 6.0) * k + (2.0 * h - 6.0) * big_h + 4.0 * h;
    let cd = (2.0 * h + 6.0) * k * k - 4.0 * h * k;
    // Divided by (N-1)(N-2)(N-3) factor by factor so that N^3 cannot overflow.
    let sigma_sq =
        ((ca * n + cb) * n + cc) * n / (n - 1.0) / (n - 2.0) / (n - 3.0) + cd / (n - 1.0) / (n - 2.0) / (n - 3.0);
    let a2 = (a2akn - (k - 1.0)) / sigma_sq.sqrt();
    if !a2.is_finite() {
        return NO_EVIDENCE;
    }
    TestResult {
        statistic: a2,
        p_value: anderson_darling_p_value(a2),
    }
}

/// scipy's `anderson_ksamp` p-value for k = 2, capped and floored at the tabulated levels.
#[must_use]
pub fn anderson_darling_p_value(a2: f64) -> f64 {
    let (low, high) = (ANDERSON_DARLING_CRITICAL[0], ANDERSON_DARLING_CRITICAL[6]);
    if a2.is_nan() || a2 < low {
        ANDERSON_DARLING_P_CAP
    } else if a2 > high {
        ANDERSON_DARLING_P_FLOOR
    } else {
        let [c2, c1, c0] = ANDERSON_DARLING_LOG_P_FIT;
        ((c2 * a2 + c1) * a2 + c0).exp()
    }
}

/// scipy's `h = sum_{i=1}^{N-1} 1/i` and `g = sum_{i=1}^{N-2} sum_{j=i+1}^{N-1} 1 / ((N - i) j)` for the pooled
/// size `N` (rounded: sketch weights are whole counts).
fn harmonic_sums(n: f64) -> (f64, f64) {
    let n = n.round();
    if n > ANDERSON_DARLING_EXACT_SUMS {
        let m = n - 1.0;
        let h = m.ln() + EULER_GAMMA + 1.0 / (2.0 * m) - 1.0 / (12.0 * m * m);
        let g = PI * PI / 6.0 - (2.0 * n.ln() + 2.0 * EULER_GAMMA + 1.0) / n;
        return (h, g);
    }
    // scipy: hs_cs = (1. / arange(N - 1, 1, -1)).cumsum(); h = hs_cs[-1] + 1; g = (hs_cs / arange(2, N)).sum()
    let (mut running, mut g) = (0.0, 0.0);
    let mut divisor = 2.0;
    let mut i = n - 1.0;
    while i > 1.0 {
        running += 1.0 / i;
        g += running / divisor;
        divisor += 1.0;
        i -= 1.0;
    }
    (running + 1.0, g)
}

// ------------------------------------------------------------------------------------------------ energy distance

/// Energy distance between two weighted samples: scipy's
/// `energy_distance(u_values, v_values, u_weights, v_weights)`, `sqrt(2 * integral (F_a - F_b)^2 dx)`.
///
/// It is in the square root of the data's units, so a fixed threshold means different things for differently
/// scaled features: Evidently's default of 0.1 suits features of unit scale, others want their own threshold.
/// 0 when either sample is empty.
#[must_use]
pub fn energy_distance(a: &WeightedSample, b: &WeightedSample) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (ta, tb) = (a.total_weight(), b.total_weight());
    let pooled = pool(a, b);
    let mut integral = 0.0;
    for w in pooled.windows(2) {
        let (p, next) = (w[0], w[1]);
        let gap = (p.a_below + p.a) / ta - (p.b_below + p.b) / tb;
        integral += gap * gap * (next.value - p.value);
    }
    (2.0 * integral).sqrt()
}

// ------------------------------------------------------------------------------------------------ Mann-Whitney U

/// Two-sided Mann-Whitney U test with the normal approximation: scipy's
/// `mannwhitneyu(a, b, alternative='two-sided', method='asymptotic')` (with its default `use_continuity=True`).
///
/// The statistic is scipy's `U1`, the number of pairs where `a`'s value is larger, ties counting one half. The
/// p-value is `2 * sf(z)` with `z = (max(U1, U2) - n m / 2 - 0.5) / s`: continuity correction 0.5, and the tie
/// correction `s^2 = n m / 12 * ((N + 1) - sum(t^3 - t) / (N (N - 1)))` over the pooled tie groups `t` (a weighted
/// point's weight counts as that many tied values).
///
/// scipy's default `method='auto'` is exact only when one sample holds at most 8 values and there are no ties;
/// that exact law is not implemented (sketches have no integer sizes), so with so few values the p-value here is
/// the asymptotic one. Returns U = 0 and p-value 1 when either side is empty, and p-value 1 when every value is
/// tied (no spread to rank).
#[must_use]
pub fn mann_whitney_u(a: &WeightedSample, b: &WeightedSample) -> TestResult {
    let (n1, n2) = (a.total_weight(), b.total_weight());
    if n1 <= 0.0 || n2 <= 0.0 {
        return NO_EVIDENCE;
    }
    let (mut u1, mut tie_term) = (0.0, 0.0);
    for p in pool(a, b) {
        u1 += p.a * (p.b_below + p.b / 2.0);
        let t = p.a + p.b;
        tie_term += (t * t - 1.0) * t;
    }
    let n = n1 + n2;
    let u = u1.max(n1 * n2 - u1);
    let s = (n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
    let p_value = if s > 0.0 && s.is_finite() {
        2.0 * normal_sf((u - n1 * n2 / 2.0 - 0.5) / s)
    } else {
        1.0
    };
    TestResult {
        statistic: u1,
        p_value: clamp_p(p_value),
    }
}

// ------------------------------------------------------------------------------------------------ Welch

/// Welch's unequal-variance t-test: scipy's `ttest_ind(a, b, equal_var=False)`, two-sided.
///
/// Means and Bessel-corrected variances are weighted (a point of weight w counts as w values), the degrees of
/// freedom are Welch-Satterthwaite's, and the p-value is `2 * sf(|t|)` of Student's t. The statistic is positive
/// when `a`'s mean is larger.
///
/// Returns t = 0 and p-value 1 when either side has at most one unit of weight (no variance) or both sides are
/// constant at the same value. Both constant at different values gives p-value 0 with an infinite t, as scipy
/// does.
#[must_use]
pub fn welch_t_test(a: &WeightedSample, b: &WeightedSample) -> TestResult {
    let moments = |s: &WeightedSample| -> Option<(f64, f64, f64)> {
        let n = s.total_weight();
        let mean = s.mean()?;
        let ss: f64 = s.points().iter().map(|&(v, w)| w * (v - mean) * (v - mean)).sum();
        (n > 1.0).then(|| (mean, ss / (n - 1.0), n))
    };
    let (Some((m1, v1, n1)), Some((m2, v2, n2))) = (moments(a), moments(b)) else {
        return NO_EVIDENCE;
    };
    let (se1, se2) = (v1 / n1, v2 / n2);
    let se = se1 + se2;
    let diff = m1 - m2;
    if se <= 0.0 {
        return if diff == 0.0 {
            NO_EVIDENCE
        } else {
            TestResult {
                statistic: diff.signum() * f64::INFINITY,
                p_value: 0.0,
            }
        };
    }
    let t = diff / se.sqrt();
    let df = se * se / (se1 * se1 / (n1 - 1.0) + se2 * se2 / (n2 - 1.0));
    // 2 * sf(|t|) of Student's t with df degrees of freedom, without the cancellation of 1 - cdf.
    let p_value = beta::beta_reg(df / 2.0, 0.5, df / (df + t * t));
    TestResult {
        statistic: t,
        p_value: clamp_p(p_value),
    }
}

// ------------------------------------------------------------------------------------------------ one-sided KS

/// Which departure a one-sided Kolmogorov-Smirnov test looks for, with the reference as scipy's `data1` and the
/// current window as `data2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The current values are larger: `D+ = max(F_ref - F_cur)`; scipy's `alternative='greater'`.
    Higher,
    /// The current values are smaller: `D- = max(F_cur - F_ref)`; scipy's `alternative='less'`.
    Lower,
}

/// One-sided two-sample Kolmogorov-Smirnov test of `current` against `reference`: scipy's
/// `ks_2samp(reference, current, alternative='greater' | 'less', method='asymp')`.
///
/// scipy names the alternative after the CDFs: `'greater'` is "the reference's CDF lies above the current one
/// somewhere", which is the current window holding *larger* values ([`Direction::Higher`]); `'less'` is the
/// current window holding smaller values ([`Direction::Lower`]). The p-value is Hodges' approximation (1958, eq.
/// 5.3) that scipy uses for large samples, `exp(-2 z^2 - 2 z (m + 2 n) / sqrt(m n (m + n)) / 3)` with
/// `z = sqrt(m n / (m + n)) D` and `m >= n` the two total weights. scipy's `method='auto'` computes the exact law
/// whenever both samples hold at most 10 000 values; sketches have no integer sizes, so only the asymptotic form
/// is implemented. Returns D = 0 and p-value 1 when either side is empty.
#[must_use]
pub fn ks_one_sided(reference: &WeightedSample, current: &WeightedSample, direction: Direction) -> TestResult {
    let (n1, n2) = (reference.total_weight(), current.total_weight());
    if n1 <= 0.0 || n2 <= 0.0 {
        return NO_EVIDENCE;
    }
    let mut d = 0.0_f64;
    for p in pool(reference, current) {
        let gap = (p.a_below + p.a) / n1 - (p.b_below + p.b) / n2;
        d = d.max(match direction {
            Direction::Higher => gap,
            Direction::Lower => -gap,
        });
    }
    let d = d.clamp(0.0, 1.0);
    if d == 0.0 {
        return NO_EVIDENCE;
    }
    let (m, n) = (n1.max(n2), n1.min(n2));
    let en = 1.0 / (1.0 / m + 1.0 / n);
    let z = en.sqrt() * d;
    // m n (m + n) as m * n * (m + n) could overflow; the square root of the product of square roots cannot.
    let exponent = -2.0 * z * z - 2.0 * z * (m + 2.0 * n) / (m.sqrt() * n.sqrt() * (m + n).sqrt()) / 3.0;
    TestResult {
        statistic: d,
        p_value: clamp_p(exponent.exp()),
    }
}

// ------------------------------------------------------------------------------------------------ categorical tests

/// Counts over the union of categories, aligned ([`stats`]'s alignment); categories with no count on either side
/// are left out.
fn aligned_counts(reference: &[(&str, f64)], current: &[(&str, f64)]) -> (Vec<f64>, Vec<f64>) {
    let aligned = stats::align(reference, current);
    aligned
        .reference
        .into_iter()
        .zip(aligned.current)
        .filter(|&(r, c)| r + c > 0.0)
        .unzip()
}

const DEGENERATE: ChiSquareResult = ChiSquareResult {
    statistic: 0.0,
    p_value: 1.0,
    dof: 0,
};

fn chi_square_sf(statistic: f64, dof: usize) -> f64 {
    #[allow(clippy::cast_precision_loss)] // category counts are far below 2^52
    let p = ChiSquared::new(dof as f64).map_or(1.0, |dist| dist.sf(statistic));
    clamp_p(p)
}

/// G-test (log-likelihood ratio test) of homogeneity on the 2 x k table (reference, current) x categories:
/// scipy's `chi2_contingency(table, correction=False, lambda_="log-likelihood")`.
///
/// `G = 2 sum O ln(O / E)` with the expected counts of [`stats::chi_square_homogeneity`], `dof = k - 1`, p-value
/// from the chi-square law. Without Yates' correction, like the chi-square test here: scipy's default
/// `correction=True` would move every count of a two-category table half a unit towards its expectation. Empty
/// categories are left out; degenerate tables (a side with no count, fewer than two categories) give statistic 0,
/// p-value 1, dof 0.
#[must_use]
pub fn g_test(reference: &[(&str, f64)], current: &[(&str, f64)]) -> ChiSquareResult {
    let (r, c) = aligned_counts(reference, current);
    let (row_r, row_c) = (r.iter().sum::<f64>(), c.iter().sum::<f64>());
    let grand = row_r + row_c;
    if !(row_r > 0.0 && row_c > 0.0 && grand.is_finite()) || r.len() < 2 {
        return DEGENERATE;
    }
    let term = |o: f64, e: f64| if o > 0.0 { o * (o / e).ln() } else { 0.0 };
    let statistic: f64 = r
        .iter()
        .zip(&c)
        .map(|(&x, &y)| {
            let col = x + y;
            term(x, col * row_r / grand) + term(y, col * row_c / grand)
        })
        .sum::<f64>()
        * 2.0;
    let dof = r.len() - 1;
    let statistic = statistic.max(0.0);
    ChiSquareResult {
        statistic,
        p_value: chi_square_sf(statistic, dof),
        dof,
    }
}

/// Pearson's chi-square goodness-of-fit test of the current counts against the reference's shares, Evidently's
/// `chisquare` drift test: scipy's `chisquare(f_obs=current, f_exp=reference_shares * current_total)`.
///
/// Unlike the test of homogeneity ([`stats::chi_square_homogeneity`], method `chi_square`), the reference is
/// taken as the true distribution, not as a sample with its own noise, so with a small baseline it rejects more
/// readily. `dof = k - 1` over the union of categories. A category the current window holds but the reference
/// never saw has expectation 0: the statistic is infinite and the p-value 0, as in scipy. Degenerate inputs (a
/// side with no count, fewer than two categories) give statistic 0, p-value 1, dof 0.
#[must_use]
pub fn chi_square_goodness_of_fit(reference: &[(&str, f64)], current: &[(&str, f64)]) -> ChiSquareResult {
    let (r, c) = aligned_counts(reference, current);
    let (row_r, row_c) = (r.iter().sum::<f64>(), c.iter().sum::<f64>());
    if !(row_r > 0.0 && row_c > 0.0 && (row_r + row_c).is_finite()) || r.len() < 2 {
        return DEGENERATE;
    }
    let dof = r.len() - 1;
    let mut statistic = 0.0;
    for (&x, &y) in r.iter().zip(&c) {
        let expected = x / row_r * row_c;
        if expected <= 0.0 {
            return ChiSquareResult {
                statistic: f64::INFINITY,
                p_value: 0.0,
                dof,
            };
        }
        statistic += (y - expected) * (y - expected) / expected;
    }
    ChiSquareResult {
        statistic,
        p_value: chi_square_sf(statistic, dof),
        dof,
    }
}

/// Fisher's exact test on the 2 x 2 table `[[reference_a, reference_b], [current_a, current_b]]`, two-sided:
/// scipy's `fisher_exact(table)`, for features with two categories. `None` when the categories with a count
/// number more than two (the test does not apply; the caller falls back to its default method).
///
/// The statistic is the sample odds ratio `(ref_a cur_b) / (ref_b cur_a)` (infinite when the denominator is 0,
/// as in scipy). The p-value sums the hypergeometric probabilities, given the margins, of every table no more
/// probable than the observed one, with scipy's rule that a table as probable as the mode has p-value 1. Counts
/// are rounded to whole numbers. The probabilities are computed from log-factorials and summed outwards from
/// the mode until they fall below `e^-50` of the observed table's, so the cost grows with the spread of the
/// distribution, not with the counts. Two probabilities count as equal within a relative 1e-7
/// ([`FISHER_RELATIVE_TOLERANCE`]), since log-factorials are not exact. A table with an empty row or column (or
/// fewer than two categories) gives p-value 1 and odds ratio 0 where scipy's is NaN.
#[must_use]
pub fn fisher_exact(reference: &[(&str, f64)], current: &[(&str, f64)]) -> Option<TestResult> {
    let (r, c) = aligned_counts(reference, current);
    if r.len() > 2 {
        return None;
    }
    if r.len() < 2 {
        return Some(NO_EVIDENCE);
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // rounded, non-negative counts
    let count = |x: f64| x.round().min(9.0e15) as u64;
    let (a, b, cc, d) = (count(r[0]), count(r[1]), count(c[0]), count(c[1]));
    let (n1, n2, col) = (a + b, cc + d, a + cc);
    let total = n1 + n2;
    if n1 == 0 || n2 == 0 || col == 0 || col == total {
        return Some(NO_EVIDENCE);
    }
    #[allow(clippy::cast_precision_loss)]
    let odds_ratio = if b > 0 && cc > 0 {
        (a as f64 * d as f64) / (b as f64 * cc as f64)
    } else {
        f64::INFINITY
    };
    // P(X = x) for X ~ Hypergeom(total, n1 successes, col draws): scipy's hypergeom.pmf(x, total, n1, col).
    let ln_pmf = |x: u64| {
        factorial::ln_binomial(n1, x) + factorial::ln_binomial(n2, col - x) - factorial::ln_binomial(total, col)
    };
    let (low, high) = (col.saturating_sub(n2), col.min(n1));
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let mode = (((col + 1) as f64 * (n1 + 1) as f64 / (total + 2) as f64) as u64).clamp(low, high);
    let observed = ln_pmf(a);
    let threshold = observed + FISHER_RELATIVE_TOLERANCE.ln_1p();
    if (ln_pmf(mode) - observed).abs() <= FISHER_RELATIVE_TOLERANCE {
        return Some(TestResult {
            statistic: odds_ratio,
            p_value: 1.0,
        });
    }
    let negligible = observed - 50.0;
    let mut p_value = 0.0;
    let mut add = |x: u64| -> bool {
        let lp = ln_pmf(x);
        if lp <= threshold {
            p_value += lp.exp();
        }
        // Keep walking while the probabilities still matter; they only fall away from the mode.
        lp >= negligible
    };
    let mut x = mode;
    while add(x) && x > low {
        x -= 1;
    }
    let mut x = mode + 1;
    while x <= high && add(x) {
        x += 1;
    }
    Some(TestResult {
        statistic: odds_ratio,
        p_value: clamp_p(p_value),
    })
}

// ------------------------------------------------------------------------------------------------ selection

/// The score of the method a feature's configuration chose, with the entries it adds to
/// [`super::FeatureDrift::scores`].
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    pub method: Method,
    /// The statistic: a test's own (as scipy reports it; its direction depends on the test, and the verdict
    /// follows the p-value), or the value of a distance.
    pub statistic: f64,
    /// The p-value, for tests.
    pub p_value: Option<f64>,
    /// Named scores (`<method>` for distances, `<method>_statistic` and `<method>_p_value` for tests); infinite
    /// statistics are left out, as JSON cannot carry them.
    pub scores: Vec<(String, f64)>,
}

impl Chosen {
    fn distance(method: Method, value: f64) -> Self {
        Self {
            method,
            statistic: value,
            p_value: None,
            scores: vec![(method.as_str().to_owned(), value)],
        }
    }

    fn test(method: Method, statistic: f64, p_value: f64) -> Self {
        let name = method.as_str();
        let mut scores = vec![(format!("{name}_p_value"), p_value)];
        if statistic.is_finite() {
            scores.push((format!("{name}_statistic"), statistic));
        }
        Self {
            method,
            statistic,
            p_value: Some(p_value),
            scores,
        }
    }
}

/// The chosen method of this module on a numeric feature, `None` for methods computed elsewhere or that do not
/// apply to numbers. `shares` are the baseline's and the window's shares in the baseline's quantile bins.
#[must_use]
pub fn numeric(
    method: Method,
    base: &WeightedSample,
    cur: &WeightedSample,
    (base_shares, cur_shares): (&[f64], &[f64]),
) -> Option<Chosen> {
    let test = |r: TestResult| Chosen::test(method, r.statistic, r.p_value);
    Some(match method {
        Method::Hellinger => Chosen::distance(method, hellinger_distance(base_shares, cur_shares)),
        Method::KlDivergence => Chosen::distance(method, kl_divergence(base_shares, cur_shares, stats::PSI_EPSILON)),
        Method::EnergyDistance => Chosen::distance(method, energy_distance(base, cur)),
        Method::CramerVonMises => test(cramer_von_mises(base, cur)),
        Method::AndersonDarling => test(anderson_darling(base, cur)),
        Method::MannWhitneyU => test(mann_whitney_u(base, cur)),
        Method::WelchTTest => test(welch_t_test(base, cur)),
        Method::KsHigher => test(ks_one_sided(base, cur, Direction::Higher)),
        Method::KsLower => test(ks_one_sided(base, cur, Direction::Lower)),
        _ => return None,
    })
}

/// The chosen method of this module on a string feature, `None` for methods computed elsewhere, that do not
/// apply to strings, or Fisher's exact test with more than two categories.
#[must_use]
pub fn categorical(method: Method, base: &[(&str, f64)], cur: &[(&str, f64)]) -> Option<Chosen> {
    let chi = |r: ChiSquareResult| Chosen::test(method, r.statistic, r.p_value);
    Some(match method {
        Method::Hellinger => Chosen::distance(method, categorical_hellinger_distance(base, cur)),
        Method::KlDivergence => Chosen::distance(method, categorical_kl_divergence(base, cur, stats::PSI_EPSILON)),
        Method::GTest => chi(g_test(base, cur)),
        Method::ChiSquareGoodnessOfFit => chi(chi_square_goodness_of_fit(base, cur)),
        Method::FisherExact => {
            let r = fisher_exact(base, cur)?;
            Chosen::test(method, r.statistic, r.p_value)
        }
        _ => return None,
    })
}

/// `scores` with the chosen method's entries added.
#[must_use]
pub fn with_scores(
    mut scores: std::collections::BTreeMap<String, f64>,
    chosen: Option<&Chosen>,
) -> std::collections::BTreeMap<String, f64> {
    if let Some(chosen) = chosen {
        scores.extend(chosen.scores.iter().cloned());
    }
    scores
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Every reference value below was computed with scipy 1.17.1 / numpy 2.4.6 (/work/venv-ref), by the call named
    // next to it, on the literal data sets defined here; `warnings` silenced.

    /// 7 values with a triple tie (the `X7` of the `stats` tests).
    const X7: [f64; 7] = [1.2, 3.4, 3.4, 0.5, 2.2, 5.1, 3.4];
    /// 11 values sharing some points with `X7` and tied among themselves (the `Y11` of the `stats` tests).
    const Y11: [f64; 11] = [2.0, 3.4, 4.4, 0.5, 6.1, 2.2, 7.0, 3.3, 5.5, 4.4, 1.0];

    /// Python: `a200 = np.array([((i*37+11) % 101)/4 for i in range(200)])`.
    fn a200() -> WeightedSample {
        WeightedSample::from_values(
            &(0..200_u32)
                .map(|i| f64::from((i * 37 + 11) % 101) / 4.0)
                .collect::<Vec<_>>(),
        )
    }

    /// Python: `b150 = np.array([((j*53+7) % 89)/4 + 2 for j in range(150)])`.
    fn b150() -> WeightedSample {
        WeightedSample::from_values(
            &(0..150_u32)
                .map(|j| f64::from((j * 53 + 7) % 89) / 4.0 + 2.0)
                .collect::<Vec<_>>(),
        )
    }

    /// Python: `c300 = np.array([((i*29+3) % 97)/5 + 1.5 for i in range(300)])`, shifted against `a200`.
    fn c300() -> WeightedSample {
        WeightedSample::from_values(
            &(0..300_u32)
                .map(|i| f64::from((i * 29 + 3) % 97) / 5.0 + 1.5)
                .collect::<Vec<_>>(),
        )
    }

    /// Python: `d120 = np.array([((i*13+5) % 61)/3 + 1.0 for i in range(120)])`.
    fn d120() -> WeightedSample {
        WeightedSample::from_values(
            &(0..120_u32)
                .map(|i| f64::from((i * 13 + 5) % 61) / 3.0 + 1.0)
                .collect::<Vec<_>>(),
        )
    }

    /// KLL-like integer weights. Python: `k1 = np.repeat([10.0, 12.5, 13.0, 20.0, 9.0], [1, 2, 4, 8, 3] * s)`,
    /// `k2 = np.repeat([11.0, 12.5, 19.0, 25.0], [4, 4, 1, 2] * t)` with `s = t = 1` unless said otherwise.
    fn k1(scale: f64) -> WeightedSample {
        WeightedSample::from_weighted(
            [(10.0, 1.0), (12.5, 2.0), (13.0, 4.0), (20.0, 8.0), (9.0, 3.0)].map(|(v, w)| (v, w * scale)),
        )
    }

    fn k2(scale: f64) -> WeightedSample {
        WeightedSample::from_weighted([(11.0, 4.0), (12.5, 4.0), (19.0, 1.0), (25.0, 2.0)].map(|(v, w)| (v, w * scale)))
    }

    fn x7() -> WeightedSample {
        WeightedSample::from_values(&X7)
    }

    fn y11() -> WeightedSample {
        WeightedSample::from_values(&Y11)
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

    /// The baseline's decile shares of `a200` and `b150` (the `stats` tests' `binned_shares_match_numpy...`).
    const SA: [f64; 10] = [0.1, 0.1, 0.1, 0.105, 0.1, 0.1, 0.1, 0.095, 0.1, 0.1];
    const SB: [f64; 10] = [
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

    /// The 2 x 5 table of the `stats` chi-square test: columns a..e.
    const REF5: [(&str, f64); 4] = [("a", 120.0), ("b", 45.0), ("c", 30.0), ("d", 5.0)];
    const CUR5: [(&str, f64); 4] = [("e", 15.0), ("c", 25.0), ("b", 60.0), ("a", 100.0)];

    // ---------------------------------------------------------------- Hellinger, KL

    #[test]
    fn hellinger_matches_numpy() {
        // numpy 2.4.6: p, q = p/p.sum(), q/q.sum(); np.sqrt(np.sum((np.sqrt(p) - np.sqrt(q))**2)) / np.sqrt(2)
        let cases: [(&[f64], &[f64], f64); 4] = [
            (&SA, &SB, 0.14236789419348028),
            (&[0.5, 0.5, 0.0, 0.0], &[0.0, 0.25, 0.25, 0.5], 0.8040190354753588),
            (&[3.0, 1.0, 0.0, 6.0], &[2.0, 2.0, 2.0, 2.0], 0.4251193992495006),
            (&[1.0, 0.0], &[0.0, 1.0], 1.0),
        ];
        for (p, q, expected) in cases {
            assert_close(hellinger_distance(p, q), expected, 1e-12);
        }
        // The same on a200 / b150 binned on a200's deciles.
        let (a, b) = (a200(), b150());
        let edges = stats::quantile_bin_edges(&a, 10);
        let h = hellinger_distance(&stats::binned_shares(&a, &edges), &stats::binned_shares(&b, &edges));
        assert_close(h, 0.14236789419348028, 1e-12);
        // Categories a..e: the same recipe on [120, 45, 30, 5, 0] and [100, 60, 25, 0, 15].
        assert_close(categorical_hellinger_distance(&REF5, &CUR5), 0.23566752424381845, 1e-12);
        assert_eq!(hellinger_distance(&SA, &SA), 0.0);
        assert_eq!(hellinger_distance(&[], &[]), 0.0);
        assert_eq!(hellinger_distance(&[0.0, 0.0], &[0.5, 0.5]), 0.0);
    }

    #[test]
    fn kl_divergence_matches_scipy_entropy_with_psi_epsilon() {
        // numpy 2.4.6 / scipy 1.17.1: r, c = r/r.sum(), c/c.sum(); r[r == 0] = 1e-4; c[c == 0] = 1e-4;
        // scipy.stats.entropy(r, c)
        let cases: [(&[f64], &[f64], f64); 3] = [
            (&SA, &SB, 0.10155659790656528),
            (&[0.5, 0.3, 0.2, 0.0], &[0.4, 0.3, 0.1, 0.2], 0.2493161849048159),
            (&[0.25, 0.25, 0.5], &[0.2, 0.3, 0.5], 0.01020549863006378),
        ];
        for (r, c, expected) in cases {
            assert_close(kl_divergence(r, c, stats::PSI_EPSILON), expected, 1e-12);
        }
        // Without empty bins it is plain scipy: np.sum(scipy.special.rel_entr(sa, sb)) = 0.10155659790656528.
        // Categories a..e, same recipe on [120, 45, 30, 5, 0] and [100, 60, 25, 0, 15].
        assert_close(
            categorical_kl_divergence(&REF5, &CUR5, stats::PSI_EPSILON),
            0.20936628029168913,
            1e-12,
        );
        // PSI is the symmetrised divergence.
        let psi = stats::psi(&[0.5, 0.3, 0.2, 0.0], &[0.4, 0.3, 0.1, 0.2], stats::PSI_EPSILON);
        let both = kl_divergence(&[0.5, 0.3, 0.2, 0.0], &[0.4, 0.3, 0.1, 0.2], stats::PSI_EPSILON)
            + kl_divergence(&[0.4, 0.3, 0.1, 0.2], &[0.5, 0.3, 0.2, 0.0], stats::PSI_EPSILON);
        assert_close(psi, both, 1e-12);
        // Invalid epsilons fall back to PSI's.
        assert_eq!(
            kl_divergence(&[0.5, 0.3, 0.2, 0.0], &[0.4, 0.3, 0.1, 0.2], f64::NAN),
            kl_divergence(&[0.5, 0.3, 0.2, 0.0], &[0.4, 0.3, 0.1, 0.2], stats::PSI_EPSILON)
        );
        assert_eq!(kl_divergence(&[], &[1.0], stats::PSI_EPSILON), 0.0);
        assert_eq!(kl_divergence(&SA, &SA, stats::PSI_EPSILON), 0.0);
    }

    // ---------------------------------------------------------------- Cramér-von Mises

    #[test]
    fn cramer_von_mises_matches_scipy_asymptotic() {
        // scipy 1.17.1: scipy.stats.cramervonmises_2samp(x, y, method='asymptotic')
        let cases = [
            (x7(), y11(), 0.09788359788359813, 0.6595521861409392),
            (a200(), b150(), 0.1310273809523821, 0.4548823325567376),
            (b150(), a200(), 0.1310273809523821, 0.4548823325567376),
            (k1(1.0), k2(1.0), 0.4359979101358409, 0.058086900418193976),
            (a200(), c300(), 0.9206491666666636, 0.0037707290485158307),
            (a200(), d120(), 0.5362500000000026, 0.03223134290419072),
        ];
        for (x, y, statistic, p) in cases {
            let r = cramer_von_mises(&x, &y);
            assert_close(r.statistic, statistic, 1e-9);
            // scipy's series stops at terms below 1e-7, and so does ours.
            assert_abs(r.p_value, p, 1e-8);
            assert_close(r.p_value, p, 1e-6);
        }
        // scipy's method='auto' is exact up to 20 values a side: 0.6437280040221217 for x7, y11, and
        // 0.059941168802527596 for k1, k2 (18 and 11 values), against the asymptotic values above.
        let exact_x7_y11 = 0.6437280040221217;
        assert_abs(cramer_von_mises(&x7(), &y11()).p_value, exact_x7_y11, 0.02);
    }

    #[test]
    fn cramer_von_mises_large_weighted_samples() {
        // k1, k2 with weights times 60000 and 70000 (1,850,000 values). scipy 1.17.1:
        // cramervonmises_2samp(k1, k2, method='asymptotic').statistic = 26479.398771060223; its p-value
        // (1.58e-6) is the series' rounding noise, as its documentation warns for arguments above 4.
        let r = cramer_von_mises(&k1(60000.0), &k2(70000.0));
        assert_close(r.statistic, 26479.398771060223, 1e-9);
        assert!(r.p_value < 1e-5, "{}", r.p_value);
    }

    #[test]
    fn cramer_von_mises_limit_matches_scipy() {
        // scipy 1.17.1: scipy.stats._hypotests._cdf_cvm_inf(x)
        let table = [
            (0.01, 5.864432809868958e-06),
            (0.05, 0.12371906895864906),
            (0.1, 0.4151265615932029),
            (0.2, 0.7325295694592229),
            (0.4, 0.9277526774641589),
            (0.8, 0.9926843328196843),
            (1.5, 0.9998273037802107),
            (3.0, 0.9999999243222135),
        ];
        for (x, expected) in table {
            assert_abs(cramer_von_mises_cdf(x), expected, 1e-12);
        }
        // scipy 1.17.1: np.exp(-q) * scipy.special.kv(0.25, q)
        let bessel = [
            (0.001, 11.74472567194173),
            (0.1, 2.429630410969844),
            (1.0, 0.15846030751445725),
            (5.0, 2.501329905299072e-05),
            (50.0, 6.581432385620548e-45),
        ];
        for (q, expected) in bessel {
            assert_close(scaled_bessel_k_quarter(q), expected, 1e-12);
        }
        assert_eq!(scaled_bessel_k_quarter(600.0), 0.0);
        assert_eq!(cramer_von_mises_cdf(0.0), 0.0);
        assert_eq!(cramer_von_mises_cdf(f64::NAN), 0.0);
        assert_eq!(cramer_von_mises_cdf(f64::INFINITY), 1.0);
    }

    // ---------------------------------------------------------------- Anderson-Darling

    #[test]
    fn anderson_darling_matches_scipy_midrank() {
        // scipy 1.17.1: scipy.stats.anderson_ksamp([x, y], variant='midrank')
        let cases = [
            // Below the smallest critical value: scipy caps the p-value at 0.25.
            (x7(), y11(), -0.6958296823600233, 0.25),
            (a200(), b150(), 0.8094259935753891, 0.15229555354176819),
            (b150(), a200(), 0.8094259935753891, 0.15229555354176819),
            (k1(1.0), k2(1.0), 0.6862286033889404, 0.1718600961092289),
            (a200(), d120(), 4.021450641719318, 0.007922861234943734),
            // Above the largest critical value: scipy floors the p-value at 0.001.
            (a200(), c300(), 9.952825209693355, 0.001),
        ];
        for (x, y, statistic, p) in cases {
            let r = anderson_darling(&x, &y);
            assert_close(r.statistic, statistic, 1e-9);
            assert_close(r.p_value, p, 1e-9);
        }
    }

    #[test]
    fn anderson_darling_large_samples_use_the_asymptotic_sums() {
        // 1,850,000 values (above the term-by-term limit). scipy 1.17.1:
        // anderson_ksamp([k1, k2], variant='midrank') with weights times 60000 and 70000: 134081.7366323695, p 0.001.
        let r = anderson_darling(&k1(60000.0), &k2(70000.0));
        assert_close(r.statistic, 134081.7366323695, 1e-9);
        assert_eq!(r.p_value, ANDERSON_DARLING_P_FLOOR);
        // At the switch the two forms of h and g agree.
        let below = harmonic_sums(ANDERSON_DARLING_EXACT_SUMS);
        let above = harmonic_sums(ANDERSON_DARLING_EXACT_SUMS + 1.0);
        assert_abs(below.0, above.0, 2e-6);
        assert_abs(below.1, above.1, 1e-9);
    }

    #[test]
    fn anderson_darling_p_value_interpolates_scipys_table() {
        // At the critical values themselves the fitted curve passes near the tabulated levels.
        for (c, level) in ANDERSON_DARLING_CRITICAL
            .iter()
            .zip([0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001])
        {
            let p = anderson_darling_p_value(*c);
            assert!((p / level).ln().abs() < 0.2, "{c}: {p} vs {level}");
        }
        assert_eq!(anderson_darling_p_value(-3.0), ANDERSON_DARLING_P_CAP);
        assert_eq!(anderson_darling_p_value(100.0), ANDERSON_DARLING_P_FLOOR);
        assert_eq!(anderson_darling_p_value(f64::NAN), ANDERSON_DARLING_P_CAP);
    }

    // ---------------------------------------------------------------- energy distance

    #[test]
    fn energy_distance_matches_scipy() {
        // scipy 1.17.1: scipy.stats.energy_distance(x, y)
        assert_close(energy_distance(&x7(), &y11()), 0.6016786547449104, 1e-12);
        assert_close(energy_distance(&a200(), &b150()), 0.2770404102092128, 1e-12);
        assert_close(energy_distance(&a200(), &c300()), 0.6232738385154456, 1e-12);
        // scipy 1.17.1: energy_distance([10.0, 12.5, 13.0, 20.0, 9.0], [11.0, 12.5, 19.0, 25.0],
        //                               [1, 2, 4, 8, 3], [4, 4, 1, 2]) (= on the repeated values)
        assert_close(energy_distance(&k1(1.0), &k2(1.0)), 1.0917271530545816, 1e-12);
        // scipy 1.17.1: energy_distance([0.5, 1.5, 1.5, 3.0, 4.25], [1.0, 2.0, 3.0, 3.0, 6.5, -1.0],
        //                               [1, 2, 4, 8, 1], [0.5, 1.5, 2.0, 1.0, 0.25, 3.0])
        let u = WeightedSample::from_weighted([(0.5, 1.0), (1.5, 2.0), (1.5, 4.0), (3.0, 8.0), (4.25, 1.0)]);
        let v =
            WeightedSample::from_weighted([(1.0, 0.5), (2.0, 1.5), (3.0, 2.0), (3.0, 1.0), (6.5, 0.25), (-1.0, 3.0)]);
        assert_close(energy_distance(&u, &v), 0.8258086149781223, 1e-12);
        assert_eq!(energy_distance(&u, &WeightedSample::default()), 0.0);
        assert_eq!(energy_distance(&u, &u), 0.0);
    }

    // ---------------------------------------------------------------- Mann-Whitney U, Welch

    #[test]
    fn mann_whitney_u_matches_scipy_asymptotic() {
        // scipy 1.17.1: scipy.stats.mannwhitneyu(x, y, alternative='two-sided', method='asymptotic')
        // (method='auto' gives the same here: ties, or both samples above 8 values)
        let cases = [
            (x7(), y11(), 30.5, 0.4940680854302042),
            (a200(), b150(), 14487.5, 0.5846546037996114),
            (b150(), a200(), 15512.5, 0.5846546037996114),
            (k1(1.0), k2(1.0), 116.0, 0.45016963282086087),
            (a200(), c300(), 33333.5, 0.03521195958255526),
        ];
        for (x, y, u, p) in cases {
            let r = mann_whitney_u(&x, &y);
            assert_close(r.statistic, u, 1e-12);
            assert_close(r.p_value, p, 1e-9);
        }
        let same = WeightedSample::from_values(&[2.0; 5]);
        assert_eq!(mann_whitney_u(&same, &same).p_value, 1.0);
        assert_eq!(mann_whitney_u(&same, &WeightedSample::default()), NO_EVIDENCE);
    }

    #[test]
    fn welch_t_test_matches_scipy() {
        // scipy 1.17.1: scipy.stats.ttest_ind(x, y, equal_var=False)
        let cases = [
            (x7(), y11(), -1.0147915196863928, 0.325828775048244),
            (a200(), b150(), -0.581273407615921, 0.5614424134622831),
            (b150(), a200(), 0.581273407615921, 0.5614424134622831),
            (k1(1.0), k2(1.0), 0.2033491309078094, 0.841098286377866),
            (a200(), c300(), 2.3081437328671486, 0.02157443503205239),
        ];
        for (x, y, t, p) in cases {
            let r = welch_t_test(&x, &y);
            assert_close(r.statistic, t, 1e-10);
            assert_close(r.p_value, p, 1e-9);
        }
        // scipy 1.17.1: ttest_ind([1, 1, 1], [2, 2, 2], equal_var=False) -> statistic -inf, p-value 0.0
        let (ones, twos) = (
            WeightedSample::from_values(&[1.0; 3]),
            WeightedSample::from_values(&[2.0; 3]),
        );
        assert_eq!(welch_t_test(&ones, &twos).p_value, 0.0);
        assert_eq!(welch_t_test(&ones, &ones), NO_EVIDENCE);
        assert_eq!(welch_t_test(&WeightedSample::from_values(&[1.0]), &twos), NO_EVIDENCE);
    }

    // ---------------------------------------------------------------- one-sided KS

    #[test]
    fn one_sided_ks_matches_scipy_asymp_and_its_direction() {
        // scipy 1.17.1: scipy.stats.ks_2samp(x, y, alternative='greater' | 'less', method='asymp')
        let cases = [
            (
                x7(),
                y11(),
                (0.3116883116883117, 0.3263551348743064),
                (0.038961038961038974, 0.952122049585458),
            ),
            (
                a200(),
                b150(),
                (0.08333333333333333, 0.2808762017642816),
                (0.040000000000000036, 0.7317027312298824),
            ),
            (
                b150(),
                a200(),
                (0.040000000000000036, 0.7317027312298824),
                (0.08333333333333333, 0.2808762017642816),
            ),
            (
                k1(1.0),
                k2(1.0),
                (0.2222222222222222, 0.41533420265986604),
                (0.393939393939394, 0.08362896246519194),
            ),
            (
                a200(),
                c300(),
                (0.060000000000000005, 0.39851904108451414),
                (0.18000000000000005, 0.00035478449824989135),
            ),
        ];
        for (x, y, greater, less) in cases {
            let (hi, lo) = (
                ks_one_sided(&x, &y, Direction::Higher),
                ks_one_sided(&x, &y, Direction::Lower),
            );
            assert_abs(hi.statistic, greater.0, 1e-12);
            assert_close(hi.p_value, greater.1, 1e-9);
            assert_abs(lo.statistic, less.0, 1e-12);
            assert_close(lo.p_value, less.1, 1e-9);
        }
        // Direction: a window shifted up is caught by `Higher`, not by `Lower`.
        let base = a200();
        let up = WeightedSample::from_weighted(base.points().iter().map(|&(v, w)| (v + 5.0, w)));
        assert!(ks_one_sided(&base, &up, Direction::Higher).p_value < 1e-3);
        assert_eq!(ks_one_sided(&base, &up, Direction::Lower), NO_EVIDENCE);
        assert_eq!(
            ks_one_sided(&base, &WeightedSample::default(), Direction::Higher),
            NO_EVIDENCE
        );
    }

    // ---------------------------------------------------------------- categorical tests

    #[test]
    fn g_test_matches_scipy_log_likelihood() {
        // scipy 1.17.1: chi2_contingency([[120, 45, 30, 5, 0], [100, 60, 25, 0, 15]], correction=False,
        //                                lambda_="log-likelihood")
        let r = g_test(&REF5, &CUR5);
        assert_close(r.statistic, 32.15196129869496, 1e-9);
        assert_close(r.p_value, 1.781049405619505e-06, 1e-9);
        assert_eq!(r.dof, 4);
        // scipy 1.17.1: chi2_contingency([[3, 7, 12], [4, 9, 10]], correction=False, lambda_="log-likelihood")
        let r = g_test(
            &[("red", 12.0), ("green", 7.0), ("blue", 3.0)],
            &[("red", 10.0), ("green", 9.0), ("blue", 4.0)],
        );
        assert_close(r.statistic, 0.5538476071957494, 1e-9);
        assert_close(r.p_value, 0.7581122603364502, 1e-9);
        assert_eq!(r.dof, 2);
        // scipy 1.17.1: chi2_contingency([[2.5, 4.0], [3.0, 1.5]], correction=False, lambda_="log-likelihood")
        // (with scipy's default correction=True, Yates' would give 0.09416999469843235)
        let r = g_test(&[("x", 2.5), ("y", 4.0)], &[("x", 3.0), ("y", 1.5)]);
        assert_close(r.statistic, 0.8589907062746929, 1e-9);
        assert_close(r.p_value, 0.3540212894349175, 1e-9);
        assert_eq!(r.dof, 1);
        assert_eq!(g_test(&[("a", 3.0)], &[("a", 5.0)]), DEGENERATE);
        assert_eq!(g_test(&[], &[("a", 5.0), ("b", 1.0)]), DEGENERATE);
    }

    #[test]
    fn chi_square_goodness_of_fit_matches_scipy_chisquare() {
        // scipy 1.17.1: r, c = np.array(reference, float), np.array(current, float);
        // scipy.stats.chisquare(f_obs=c, f_exp=r/r.sum()*c.sum())
        let r = chi_square_goodness_of_fit(
            &[("red", 12.0), ("green", 7.0), ("blue", 3.0)],
            &[("red", 10.0), ("green", 9.0), ("blue", 4.0)],
        );
        // reference [3, 7, 12], current [4, 9, 10] (blue, green, red)
        assert_close(r.statistic, 1.1407867494824013, 1e-9);
        assert_close(r.p_value, 0.5653030190264552, 1e-9);
        assert_eq!(r.dof, 2);
        // reference [120, 45, 30, 5], current [100, 60, 25, 3]
        let r = chi_square_goodness_of_fit(&REF5, &[("a", 100.0), ("b", 60.0), ("c", 25.0), ("d", 3.0)]);
        assert_close(r.statistic, 9.836879432624109, 1e-9);
        assert_close(r.p_value, 0.02000484632108914, 1e-9);
        // Fractional: reference [2.5, 4.0], current [3.0, 1.5]
        let r = chi_square_goodness_of_fit(&[("x", 2.5), ("y", 4.0)], &[("x", 3.0), ("y", 1.5)]);
        assert_close(r.statistic, 1.5124999999999997, 1e-9);
        assert_close(r.p_value, 0.21875800453338878, 1e-9);
        // A category the reference never saw ("e"): scipy gives statistic inf, p-value 0.0.
        let r = chi_square_goodness_of_fit(&REF5, &CUR5);
        assert_eq!((r.statistic, r.p_value, r.dof), (f64::INFINITY, 0.0, 4));
        // It is not the homogeneity test: the reference's own noise is ignored, so the p-value is smaller.
        let homogeneity = stats::chi_square_homogeneity(&[("x", 2.5), ("y", 4.0)], &[("x", 3.0), ("y", 1.5)]);
        assert!(homogeneity.p_value > 0.21875800453338878);
    }

    #[test]
    fn fisher_exact_matches_scipy() {
        // scipy 1.17.1: scipy.stats.fisher_exact([[ref_a, ref_b], [cur_a, cur_b]])
        let cases: [([f64; 4], f64, f64); 10] = [
            ([8.0, 2.0, 1.0, 5.0], 20.0, 0.034965034965034975),
            ([3.0, 1.0, 1.0, 3.0], 9.0, 0.48571428571428565),
            ([10.0, 10.0, 10.0, 10.0], 1.0, 1.0),
            ([120.0, 80.0, 60.0, 20.0], 0.5, 0.019204295383931896),
            (
                [5000.0, 4000.0, 2900.0, 2600.0],
                1.1206896551724137,
                0.0009119040209026818,
            ),
            ([30000.0, 70000.0, 280.0, 720.0], 1.1020408163265305, 0.176199354272999),
            ([0.0, 5.0, 4.0, 1.0], 0.0, 0.04761904761904762),
            ([7.0, 0.0, 3.0, 5.0], f64::INFINITY, 0.02564102564102564),
            ([2.0, 2.0, 2.0, 3.0], 1.5, 1.0),
            ([1000.0, 2000.0, 40.0, 120.0], 1.5, 0.030691240882999453),
        ];
        for ([ra, rb, ca, cb], odds, p) in cases {
            let r = fisher_exact(&[("a", ra), ("b", rb)], &[("b", cb), ("a", ca)]).unwrap();
            assert_eq!(r.statistic, odds, "{ra} {rb} {ca} {cb}");
            assert_close(r.p_value, p, 1e-9);
        }
        assert_eq!(fisher_exact(&REF5, &CUR5), None, "more than two categories");
        assert_eq!(fisher_exact(&[("a", 3.0)], &[("a", 4.0)]), Some(NO_EVIDENCE));
        // scipy 1.17.1: fisher_exact([[3, 0], [0, 4]]).pvalue = 1/35
        assert_close(
            fisher_exact(&[("a", 3.0)], &[("b", 4.0)]).unwrap().p_value,
            1.0 / 35.0,
            1e-12,
        );
        assert_eq!(fisher_exact(&[], &[("a", 4.0), ("b", 1.0)]), Some(NO_EVIDENCE));
    }

    // ---------------------------------------------------------------- properties

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

    fn counts() -> impl Strategy<Value = Vec<(String, f64)>> {
        prop::collection::vec(
            (
                "[a-c]",
                prop_oneof![Just(0.0), (0_u32..1000).prop_map(f64::from), 0.0_f64..50.0],
            ),
            0..6,
        )
    }

    fn as_refs(v: &[(String, f64)]) -> Vec<(&str, f64)> {
        v.iter().map(|(k, c)| (k.as_str(), *c)).collect()
    }

    proptest! {
        #[test]
        fn numeric_methods_are_well_formed(p in weighted_points(), q in weighted_points()) {
            let (a, b) = (WeightedSample::from_weighted(p), WeightedSample::from_weighted(q));
            for r in [
                cramer_von_mises(&a, &b),
                anderson_darling(&a, &b),
                mann_whitney_u(&a, &b),
                welch_t_test(&a, &b),
                ks_one_sided(&a, &b, Direction::Higher),
                ks_one_sided(&a, &b, Direction::Lower),
            ] {
                prop_assert!((0.0..=1.0).contains(&r.p_value), "{:?}", r);
                prop_assert!(!r.statistic.is_nan(), "{:?}", r);
            }
            let e = energy_distance(&a, &b);
            prop_assert!(e.is_finite() && e >= 0.0);
            prop_assert!((e - energy_distance(&b, &a)).abs() <= 1e-9 * e.max(1.0));
            prop_assert_eq!(energy_distance(&a, &a), 0.0);
        }

        #[test]
        fn categorical_methods_are_well_formed(r in counts(), c in counts()) {
            let (r, c) = (as_refs(&r), as_refs(&c));
            for res in [g_test(&r, &c), chi_square_goodness_of_fit(&r, &c)] {
                prop_assert!((0.0..=1.0).contains(&res.p_value), "{:?}", res);
                prop_assert!(res.statistic >= 0.0, "{:?}", res);
            }
            if let Some(f) = fisher_exact(&r, &c) {
                prop_assert!((0.0..=1.0).contains(&f.p_value), "{:?}", f);
            }
            let h = categorical_hellinger_distance(&r, &c);
            prop_assert!((0.0..=1.0).contains(&h));
            let kl = categorical_kl_divergence(&r, &c, stats::PSI_EPSILON);
            prop_assert!(kl.is_finite() && kl >= 0.0);
            prop_assert_eq!(categorical_kl_divergence(&r, &r, stats::PSI_EPSILON), 0.0);
        }
    }
}
