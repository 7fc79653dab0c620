//! Inter-rater agreement: Krippendorff's alpha (nominal, ordinal, interval) and Fleiss'
//! kappa. Pure functions over "units" (items), each holding the values its raters gave
//! (a rater without a value is simply absent). Values are category indices; for ordinal
//! data their order is the scale's order.
//!
//! Alpha follows Krippendorff, "Computing Krippendorff's Alpha-Reliability" (2011): the
//! coincidence matrix of pairable values, observed against expected disagreement.

use std::collections::BTreeMap;

/// The level of measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Categories without order.
    Nominal,
    /// Ordered categories (rank distances from the marginals).
    Ordinal,
    /// Equal intervals between values.
    Interval,
}

/// An agreement figure and how much data stands behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    /// The coefficient; `None` where it is undefined (fewer than two pairable values, or no
    /// variation at all in the data).
    pub value: Option<f64>,
    /// Units (items) with at least two values.
    pub units: usize,
    /// Pairable values in those units.
    pub values: usize,
}

/// Krippendorff's alpha.
pub fn alpha(units: &[Vec<usize>], level: Level) -> Agreement {
    // Coincidences o[c][k]: each ordered pair of values within a unit, weighted 1/(m-1).
    let mut o: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    let mut used = 0;
    let mut n_values = 0;
    for u in units {
        let m = u.len();
        if m < 2 {
            continue;
        }
        used += 1;
        n_values += m;
        let w = 1.0 / (m as f64 - 1.0);
        for (i, a) in u.iter().enumerate() {
            for (j, b) in u.iter().enumerate() {
                if i != j {
                    *o.entry((*a, *b)).or_default() += w;
                }
            }
        }
    }
    let mut marg: BTreeMap<usize, f64> = BTreeMap::new();
    for ((c, _), v) in &o {
        *marg.entry(*c).or_default() += v;
    }
    let n: f64 = marg.values().sum();
    let none = Agreement {
        value: None,
        units: used,
        values: n_values,
    };
    if n < 2.0 || marg.len() < 2 {
        return none;
    }
    let cats: Vec<usize> = marg.keys().copied().collect();
    let delta = |c: usize, k: usize| -> f64 {
        match level {
            Level::Nominal => {
                if c == k {
                    0.0
                } else {
                    1.0
                }
            }
            Level::Interval => {
                let d = c as f64 - k as f64;
                d * d
            }
            Level::Ordinal => {
                let (lo, hi) = if c <= k { (c, k) } else { (k, c) };
                let between: f64 = cats
                    .iter()
                    .filter(|g| **g >= lo && **g <= hi)
                    .map(|g| marg[g])
                    .sum();
                let d = between - (marg[&lo] + marg[&hi]) / 2.0;
                d * d
            }
        }
    };
    let mut observed = 0.0;
    for ((c, k), v) in &o {
        observed += v * delta(*c, *k);
    }
    let mut expected = 0.0;
    for c in &cats {
        for k in &cats {
            expected += marg[c] * marg[k] * delta(*c, *k);
        }
    }
    if expected == 0.0 {
        return none;
    }
    Agreement {
        value: Some(1.0 - (n - 1.0) * observed / expected),
        ..none
    }
}

/// Fleiss' kappa over units each holding the category counts of its raters
/// (`counts[unit][category]`); units with fewer than two ratings are left out. The
/// number of raters may differ between units (the usual generalisation).
pub fn fleiss(counts: &[Vec<usize>]) -> Agreement {
    let cats = counts.iter().map(Vec::len).max().unwrap_or(0);
    let mut p_sum = 0.0;
    let mut totals = vec![0usize; cats];
    let (mut units, mut ratings) = (0usize, 0usize);
    for row in counts {
        let n: usize = row.iter().sum();
        if n < 2 {
            continue;
        }
        units += 1;
        ratings += n;
        let agree: usize = row.iter().map(|x| x * x).sum::<usize>() - n;
        p_sum += agree as f64 / (n * (n - 1)) as f64;
        for (j, x) in row.iter().enumerate() {
            totals[j] += x;
        }
    }
    let none = Agreement {
        value: None,
        units,
        values: ratings,
    };
    if units == 0 {
        return none;
    }
    let p_bar = p_sum / units as f64;
    let p_e: f64 = totals
        .iter()
        .map(|t| (*t as f64 / ratings as f64).powi(2))
        .sum();
    if (1.0 - p_e).abs() < f64::EPSILON {
        return none;
    }
    Agreement {
        value: Some((p_bar - p_e) / (1.0 - p_e)),
        ..none
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round3(a: Agreement) -> f64 {
        (a.value.unwrap() * 1000.0).round() / 1000.0
    }

    /// Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: four
    /// observers, five values, missing data. Published: nominal 0.743, ordinal 0.815,
    /// interval 0.849.
    #[test]
    fn krippendorffs_worked_example_with_missing_data() {
        let rows: [[Option<usize>; 12]; 4] = [
            [
                Some(1),
                Some(2),
                Some(3),
                Some(3),
                Some(2),
                Some(1),
                Some(4),
                Some(1),
                Some(2),
                None,
                None,
                None,
            ],
            [
                Some(1),
                Some(2),
                Some(3),
                Some(3),
                Some(2),
                Some(2),
                Some(4),
                Some(1),
                Some(2),
                Some(5),
                None,
                Some(3),
            ],
            [
                None,
                Some(3),
                Some(3),
                Some(3),
                Some(2),
                Some(3),
                Some(4),
                Some(2),
                Some(2),
                Some(5),
                Some(1),
                None,
            ],
            [
                Some(1),
                Some(2),
                Some(3),
                Some(3),
                Some(2),
                Some(4),
                Some(4),
                Some(1),
                Some(2),
                Some(5),
                Some(1),
                None,
            ],
        ];
        let units: Vec<Vec<usize>> = (0..12)
            .map(|u| rows.iter().filter_map(|r| r[u]).collect())
            .collect();
        assert_eq!(round3(alpha(&units, Level::Nominal)), 0.743);
        assert_eq!(round3(alpha(&units, Level::Ordinal)), 0.815);
        assert_eq!(round3(alpha(&units, Level::Interval)), 0.849);
        // Unit 12 has one value only: it is not pairable.
        assert_eq!(alpha(&units, Level::Nominal).units, 11);
    }

    /// Krippendorff (2011), section A: binary data, two observers. Published: 0.095.
    #[test]
    fn krippendorffs_binary_example() {
        let a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0];
        let b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0];
        let units: Vec<Vec<usize>> = a.iter().zip(b).map(|(x, y)| vec![*x, y]).collect();
        assert_eq!(round3(alpha(&units, Level::Nominal)), 0.095);
    }

    /// Fleiss (1971) as worked in the literature (and on Wikipedia's "Fleiss' kappa"):
    /// 10 subjects, 14 raters, 5 categories; P-bar 0.378, P_e 0.213, kappa 0.210.
    #[test]
    fn fleiss_worked_example() {
        let t = vec![
            vec![0, 0, 0, 0, 14],
            vec![0, 2, 6, 4, 2],
            vec![0, 0, 3, 5, 6],
            vec![0, 3, 9, 2, 0],
            vec![2, 2, 8, 1, 1],
            vec![7, 7, 0, 0, 0],
            vec![3, 2, 6, 3, 0],
            vec![2, 5, 3, 2, 2],
            vec![6, 5, 2, 1, 0],
            vec![0, 2, 2, 3, 7],
        ];
        assert_eq!(round3(fleiss(&t)), 0.210);
    }

    #[test]
    fn undefined_without_variation_or_pairs() {
        assert_eq!(alpha(&[vec![1, 1], vec![1, 1]], Level::Nominal).value, None);
        assert_eq!(alpha(&[vec![1], vec![2]], Level::Nominal).value, None);
        assert_eq!(
            alpha(&[vec![0, 0], vec![1, 1]], Level::Nominal).value,
            Some(1.0)
        );
        assert_eq!(fleiss(&[vec![2, 0], vec![2, 0]]).value, None);
    }
}
