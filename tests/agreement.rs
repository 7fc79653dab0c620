//! Krippendorff's alpha against an independent implementation: the `krippendorff` Python
//! package (Castro, PyPI), on random reliability data with missing values.
#![allow(clippy::unwrap_used)]

use verdict::hub::agreement::{Level, alpha};

#[test]
fn alpha_matches_the_krippendorff_python_package() {
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = |m: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % m
    };
    for round in 0..6 {
        let (raters, units) = (3 + round % 3, 20 + 7 * round);
        // rows: raters; None: missing. Raters agree often, so alpha is far from 0.
        let mut rows: Vec<Vec<Option<usize>>> = Vec::new();
        let truth: Vec<usize> = (0..units).map(|_| next(5) as usize).collect();
        for _ in 0..raters {
            rows.push(
                truth
                    .iter()
                    .map(|t| match next(10) {
                        0..=2 => None,
                        3..=4 => Some(next(5) as usize),
                        _ => Some(*t),
                    })
                    .collect(),
            );
        }
        let units_v: Vec<Vec<usize>> = (0..units)
            .map(|u| rows.iter().filter_map(|r| r[u]).collect())
            .collect();
        let matrix: Vec<String> = rows
            .iter()
            .map(|r| {
                let cells: Vec<String> = r
                    .iter()
                    .map(|v| v.map(|x| x.to_string()).unwrap_or("nan".into()))
                    .collect();
                format!("[{}]", cells.join(","))
            })
            .collect();
        let script = format!(
            "import krippendorff, numpy as np\nnan = np.nan\nd = np.array([{}], dtype=float)\nfor level in ('nominal', 'ordinal', 'interval'):\n    print(repr(float(krippendorff.alpha(reliability_data=d, level_of_measurement=level))))\n",
            matrix.join(",")
        );
        let out = std::process::Command::new("python3")
            .args(["-c", &script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "python3 with the krippendorff package is needed (pip install krippendorff): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs: Vec<f64> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect();
        for (level, t) in [Level::Nominal, Level::Ordinal, Level::Interval]
            .into_iter()
            .zip(theirs)
        {
            let ours = alpha(&units_v, level).value.unwrap();
            assert!(
                (ours - t).abs() < 1e-9,
                "round {round} {level:?}: ours {ours}, krippendorff {t}"
            );
        }
    }
}
