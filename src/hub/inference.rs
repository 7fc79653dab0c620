//! The statistics behind `hub metrics` and `hub compare` (docs/metrics.md gives every
//! formula): Wilson score intervals for a rate, the exact McNemar test and Newcombe's
//! interval for a paired difference of rates, Newcombe's hybrid score interval for an
//! unpaired one, and the smallest difference detectable at a sample size. Pure functions.

/// The standard normal distribution function.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// The standard normal quantile (inverse distribution function) for 0 < p < 1: Acklam's
/// rational approximation, refined by one Halley step on `normal_cdf` (accurate to
/// double precision).
pub fn normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let low = 0.02425;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < low {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    };
    // One Halley step.
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// The z of a two-sided test at level `alpha` (1.959964 for 0.05).
pub fn z_for(alpha: f64) -> f64 {
    normal_quantile(1.0 - alpha / 2.0)
}

/// The Wilson score interval for `k` of `n` (None when n is 0).
pub fn wilson(k: u64, n: u64, z: f64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// The exact (binomial) two-sided McNemar test on the discordant pairs: `b` pairs where
/// only the first condition had the outcome, `c` where only the second had it. The
/// p-value is twice the smaller tail of Binomial(b + c, 1/2), at most 1.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // P(X <= k), summed in log space: C(n, i) / 2^n.
    let ln_half_n = n as f64 * 0.5f64.ln();
    let mut ln_choose = 0.0; // ln C(n, 0)
    let mut tail = 0.0;
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose + ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}

/// A paired 2x2 table of one outcome under a baseline and a candidate, over the same
/// prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Paired {
    /// The outcome under both.
    pub both: u64,
    /// Under the baseline only.
    pub baseline_only: u64,
    /// Under the candidate only.
    pub candidate_only: u64,
    /// Under neither.
    pub neither: u64,
}

impl Paired {
    /// Pairs in the table.
    pub fn n(&self) -> u64 {
        self.both + self.baseline_only + self.candidate_only + self.neither
    }
}

/// The candidate's rate minus the baseline's on paired data, with Newcombe's (1998)
/// score interval for a paired difference (his method 10: the Wilson intervals of the two
/// rates combined with the phi correlation of the table): (difference, low, high). None
/// when the table is empty.
pub fn newcombe_paired(t: &Paired, z: f64) -> Option<(f64, f64, f64)> {
    let n = t.n();
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let p1 = (t.both + t.candidate_only) as f64 / nf;
    let p2 = (t.both + t.baseline_only) as f64 / nf;
    let (l1, u1) = wilson(t.both + t.candidate_only, n, z)?;
    let (l2, u2) = wilson(t.both + t.baseline_only, n, z)?;
    let (a, b, c, d) = (
        t.both as f64,
        t.candidate_only as f64,
        t.baseline_only as f64,
        t.neither as f64,
    );
    let denom = ((a + b) * (c + d) * (a + c) * (b + d)).sqrt();
    let phi = if denom > 0.0 {
        (a * d - b * c) / denom
    } else {
        0.0
    };
    let diff = p1 - p2;
    let lo = (p1 - l1).powi(2) - 2.0 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2).powi(2);
    let hi = (u1 - p1).powi(2) - 2.0 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2).powi(2);
    Some((
        diff,
        (diff - lo.max(0.0).sqrt()).max(-1.0),
        (diff + hi.max(0.0).sqrt()).min(1.0),
    ))
}

/// `k1`/`n1` minus `k2`/`n2` for independent samples, with Newcombe's hybrid score
/// interval (his method 10 for unpaired data): (difference, low, high). None when a
/// sample is empty.
pub fn newcombe_unpaired(k1: u64, n1: u64, k2: u64, n2: u64, z: f64) -> Option<(f64, f64, f64)> {
    let (l1, u1) = wilson(k1, n1, z)?;
    let (l2, u2) = wilson(k2, n2, z)?;
    let p1 = k1 as f64 / n1 as f64;
    let p2 = k2 as f64 / n2 as f64;
    let diff = p1 - p2;
    Some((
        diff,
        diff - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt(),
        diff + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt(),
    ))
}

/// P(X >= k) for X ~ Binomial(n, p), summed in log space.
pub fn binomial_sf(n: u64, p: f64, k: u64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let ln_n1 = libm::lgamma(n as f64 + 1.0);
    (k..=n)
        .map(|i| {
            let ln_choose =
                ln_n1 - libm::lgamma(i as f64 + 1.0) - libm::lgamma((n - i) as f64 + 1.0);
            (ln_choose + i as f64 * lp + (n - i) as f64 * lq).exp()
        })
        .sum::<f64>()
        .min(1.0)
}

/// The fewest discordant pairs, all in one direction, with which the exact McNemar test
/// reaches level `alpha` (6 at 0.05: 2 * 0.5^6 < 0.05).
pub fn min_discordant(alpha: f64) -> u64 {
    (1..64)
        .find(|d| 2.0 * 0.5f64.powi(*d as i32) < alpha)
        .unwrap_or(64)
}

/// Holm's step-down adjustment of p-values for multiple tests (in the order given):
/// sorted ascending, the i-th smallest (0-based) of m becomes max over j <= i of
/// min(1, (m - j) p_(j)).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|a, b| p[*a].total_cmp(&p[*b]));
    let mut out = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        out[i] = running;
    }
    out
}

/// The smallest difference of rates a paired comparison of these prompts detects with
/// power `power` at level `alpha`: the larger of
/// - the normal approximation to McNemar's test for a small difference,
///   (z_(1-alpha/2) + z_power) * sqrt(d / n), d the share of discordant pairs (at least
///   1/n), and
/// - the exact test's floor: the smallest difference (every changed prompt changed the
///   same way, the most favourable case) at which n prompts give at least
///   `min_discordant(alpha)` discordant pairs with probability `power`.
pub fn mdd_paired(t: &Paired, alpha: f64, power: f64) -> Option<f64> {
    let n = t.n();
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let d = ((t.baseline_only + t.candidate_only) as f64 / nf).max(1.0 / nf);
    let approx = (z_for(alpha) + normal_quantile(power)) * (d / nf).sqrt();
    let need = min_discordant(alpha);
    let floor = if binomial_sf(n, 1.0, need) < power {
        1.0
    } else {
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..60 {
            let mid = (lo + hi) / 2.0;
            if binomial_sf(n, mid, need) >= power {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    };
    Some(approx.max(floor).min(1.0))
}

/// The same for two independent samples: (z_(1-alpha/2) + z_power) *
/// sqrt(p(1-p)(1/n1 + 1/n2)), p the pooled rate (kept within [1/N, 1 - 1/N], N = n1+n2).
pub fn mdd_unpaired(k1: u64, n1: u64, k2: u64, n2: u64, alpha: f64, power: f64) -> Option<f64> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let total = (n1 + n2) as f64;
    let p = ((k1 + k2) as f64 / total).clamp(1.0 / total, 1.0 - 1.0 / total);
    Some(
        (z_for(alpha) + normal_quantile(power))
            * (p * (1.0 - p) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_known_values() {
        assert!((z_for(0.05) - 1.959_963_984_540_054).abs() < 1e-12);
        assert!((normal_quantile(0.8) - 0.841_621_233_572_914_3).abs() < 1e-12);
        assert!((normal_quantile(1e-6) + 4.753_424_308_822_899).abs() < 1e-9);
        // Wilson for 0 of 10 starts at 0; the exact McNemar test on 0 vs 5 discordant
        // pairs is 2/32.
        let (lo, hi) = wilson(0, 10, z_for(0.05)).unwrap();
        assert!(lo.abs() < 1e-15, "{lo}");
        assert!((hi - 0.277_532_799_862_889_4).abs() < 1e-12, "{hi}");
        assert!((mcnemar_exact(0, 5) - 0.0625).abs() < 1e-15);
        assert_eq!(mcnemar_exact(3, 3), 1.0);
        assert_eq!(wilson(0, 0, 1.96), None);
    }

    #[test]
    fn the_detectable_difference_respects_what_the_exact_test_can_reach() {
        assert_eq!(min_discordant(0.05), 6);
        // 200 prompts without discordance: the normal approximation alone would say
        // 1.4 points, but the exact test needs 6 discordant prompts: 80% power for that
        // needs a 3.9-point shift (scipy: brentq on binom.sf(5, 200, p) = 0.8).
        let t = Paired {
            both: 0,
            baseline_only: 0,
            candidate_only: 0,
            neither: 200,
        };
        let mdd = mdd_paired(&t, 0.05, 0.8).unwrap();
        assert!((mdd - 0.039_242_777_725_702_38).abs() < 1e-9, "{mdd}");
        let t = Paired { neither: 25, ..t };
        assert!((mdd_paired(&t, 0.05, 0.8).unwrap() - 0.297_812_773_331_888_55).abs() < 1e-9);
        assert!((binomial_sf(10, 0.5, 9) - 11.0 / 1024.0).abs() < 1e-15);
    }

    #[test]
    fn the_paired_interval_contains_the_difference_and_pairing_narrows_it() {
        let t = Paired {
            both: 40,
            baseline_only: 5,
            candidate_only: 15,
            neither: 40,
        };
        let (d, lo, hi) = newcombe_paired(&t, z_for(0.05)).unwrap();
        assert!((d - 0.10).abs() < 1e-12);
        assert!(lo < d && d < hi && lo > 0.0, "{lo} {hi}");
        let (_, ulo, uhi) = newcombe_unpaired(55, 100, 45, 100, z_for(0.05)).unwrap();
        assert!(hi - lo < uhi - ulo, "pairing narrows the interval");
    }
}
