//! Statistical disclosure control for published national emission figures (t CO2e by
//! industry × county) and for firm benchmarks.
//!
//! * Primary rule ([`passes`]): a group of firms may be published only when it has at least
//!   `min_firms` firms and its two largest firms hold at most `max_top2_share` of its total.
//! * Complementary suppression ([`suppress`]): in a table whose row, column and grand totals are
//!   published (each margin itself subject to the primary rule), no suppressed cell may be
//!   recoverable by linear arithmetic. [`recoverable`] is the independent checker.
//! * Benchmark statistics ([`quantile`], [`percentile_rank`]) and peer-group roll-up
//!   ([`narrowest_passing`]).
//!
//! Scope: only cell values are guaranteed non-recoverable. A margin that is not published may
//! still be derivable from other margins (e.g. when exactly one row margin is withheld, it equals
//! the sum of the column margins minus the other row margins); such derived margins are not
//! protected here and must be handled by the caller if they matter.

use std::collections::BTreeSet;

/// Numerical tolerance of the Gaussian elimination in [`recoverable`].
const TOL: f64 = 1e-9;

/// Thresholds of the primary rule (settings, passed in by the caller).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Minimum number of firms a published group must contain.
    pub min_firms: usize,
    /// Maximum share (0..=1) of the group's total that its two largest firms may hold.
    pub max_top2_share: f64,
}

impl Default for Thresholds {
    /// 10 firms, 85 % for the two largest.
    fn default() -> Self {
        Self { min_firms: 10, max_top2_share: 0.85 }
    }
}

/// Primary rule on one group's firm values (any order, non-negative): at least `min_firms`
/// values and the two largest at most `max_top2_share` of the total. A group whose total is 0
/// passes the dominance test. Shares exactly at the threshold pass (relative tolerance 1e-12).
pub fn passes(values: &[f64], t: &Thresholds) -> bool {
    if values.len() < t.min_firms {
        return false;
    }
    let total: f64 = values.iter().sum();
    if total <= 0.0 {
        return true;
    }
    let (first, second) = values.iter().fold((0.0f64, 0.0f64), |(a, b), &v| if v > a { (v, a) } else { (a, b.max(v)) });
    let top2 = first + second;
    top2 <= t.max_top2_share * total * (1.0 + 1e-12)
}

/// A rows × cols table; `cells[r][c]` holds the values of the firms in that cell (maybe empty).
/// Rows may differ in length: the table has as many columns as its longest row, and missing
/// cells are empty.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// `cells[row][col]` = the firm values of that cell.
    pub cells: Vec<Vec<Vec<f64>>>,
}

impl Table {
    fn rows(&self) -> usize {
        self.cells.len()
    }

    fn cols(&self) -> usize {
        self.cells.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// The firm values of a cell; empty for a cell outside a short row.
    fn cell(&self, r: usize, c: usize) -> &[f64] {
        self.cells.get(r).and_then(|row| row.get(c)).map_or(&[], Vec::as_slice)
    }
}

/// Which cells are withheld and which margins are published.
/// Margin flags missing from a too-short vector count as "not published".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Suppression {
    /// Cells failing the primary rule.
    pub primary: BTreeSet<(usize, usize)>,
    /// Cells withheld only to protect other cells.
    pub complementary: BTreeSet<(usize, usize)>,
    /// Per row: is the row total published?
    pub row_margin_published: Vec<bool>,
    /// Per column: is the column total published?
    pub col_margin_published: Vec<bool>,
    /// Is the grand total published?
    pub grand_total_published: bool,
}

impl Suppression {
    /// Is the cell withheld (primary or complementary)?
    pub fn is_suppressed(&self, r: usize, c: usize) -> bool {
        self.primary.contains(&(r, c)) || self.complementary.contains(&(r, c))
    }

    /// Number of distinct withheld cells.
    pub fn count(&self) -> usize {
        self.primary.union(&self.complementary).count()
    }

    fn published(&self, line: Line) -> bool {
        let flag = match line {
            Line::Row(r) => self.row_margin_published.get(r),
            Line::Col(c) => self.col_margin_published.get(c),
        };
        flag.copied().unwrap_or(false)
    }
}

/// A row or a column of the table.
#[derive(Debug, Clone, Copy)]
enum Line {
    Row(usize),
    Col(usize),
}

impl Line {
    fn contains(self, (r, c): (usize, usize)) -> bool {
        match self {
            Line::Row(x) => x == r,
            Line::Col(x) => x == c,
        }
    }
}

/// The table reduced to what the heuristic needs: the total of each non-empty cell.
struct Grid {
    rows: usize,
    cols: usize,
    /// `None` for an empty cell (a known zero, never suppressed).
    totals: Vec<Vec<Option<f64>>>,
}

impl Grid {
    fn new(table: &Table) -> Self {
        let (rows, cols) = (table.rows(), table.cols());
        let total = |r, c| Some(table.cell(r, c)).filter(|v| !v.is_empty()).map(|v| v.iter().sum());
        let totals = (0..rows).map(|r| (0..cols).map(|c| total(r, c)).collect()).collect();
        Self { rows, cols, totals }
    }

    fn total(&self, (r, c): (usize, usize)) -> Option<f64> {
        self.totals[r][c]
    }

    fn cells(&self, line: Line) -> Vec<(usize, usize)> {
        match line {
            Line::Row(r) => (0..self.cols).map(|c| (r, c)).collect(),
            Line::Col(c) => (0..self.rows).map(|r| (r, c)).collect(),
        }
    }

    fn suppressed_in(&self, s: &Suppression, line: Line) -> usize {
        self.cells(line).into_iter().filter(|&(r, c)| s.is_suppressed(r, c)).count()
    }

    /// The best published non-empty cell of `line` to withhold as a complement. A cell is
    /// "crossed" when the other line through it already holds a suppressed cell. Ordered by
    /// (total, crossed first) or, with `crossed_first`, by (crossed first, total); then by index.
    fn best_candidate(&self, s: &Suppression, line: Line, crossed_first: bool) -> Option<(usize, usize)> {
        let crossing = |(r, c): (usize, usize)| if let Line::Row(_) = line { Line::Col(c) } else { Line::Row(r) };
        let candidates = self.cells(line).into_iter().filter(|&(r, c)| !s.is_suppressed(r, c));
        let keyed = candidates.filter_map(|cell| Some((cell, self.total(cell)?, self.suppressed_in(s, crossing(cell)) > 0)));
        // `min_by` keeps the first of equal elements, i.e. the lowest index.
        keyed
            .min_by(|a, b| {
                let (by_total, by_cross) = (a.1.total_cmp(&b.1), b.2.cmp(&a.2));
                if crossed_first { by_cross.then(by_total) } else { by_total.then(by_cross) }
            })
            .map(|(cell, _, _)| cell)
    }
}

/// Decides which cells are suppressed; `recoverable(table, &result)` is always empty.
///
/// 1. Primary: every non-empty cell failing [`passes`].
/// 2. Margins: a row/column/grand total is published iff the union of its firms passes.
/// 3. Until stable: every published line holding exactly one suppressed cell gets a complement
///    (smallest total, preferring a cell whose other line already has a suppressed cell); a line
///    with no candidate gets its margin withheld. Then the checker runs; each still-recoverable
///    cell (bridges, grand-total effects) gets one more complement in its row or column, or, as a
///    last resort, one of its margins is withheld. Every step adds a cell or withholds a margin,
///    so the loop terminates.
///
/// Empty cells are never suppressed. Derived margins are not protected (see the module docs).
pub fn suppress(table: &Table, t: &Thresholds) -> Suppression {
    let g = Grid::new(table);
    let mut s = Suppression::default();
    let cells = (0..g.rows).flat_map(|r| (0..g.cols).map(move |c| (r, c)));
    s.primary = cells.filter(|&(r, c)| !table.cell(r, c).is_empty() && !passes(table.cell(r, c), t)).collect();
    let union_passes = |line: Line| {
        let values: Vec<f64> = g.cells(line).into_iter().flat_map(|(r, c)| table.cell(r, c).iter().copied()).collect();
        passes(&values, t)
    };
    s.row_margin_published = (0..g.rows).map(|r| union_passes(Line::Row(r))).collect();
    s.col_margin_published = (0..g.cols).map(|c| union_passes(Line::Col(c))).collect();
    let all: Vec<f64> = table.cells.iter().flatten().flatten().copied().collect();
    s.grand_total_published = passes(&all, t);

    loop {
        balance_lines(&g, &mut s);
        let rec = recoverable(table, &s);
        if rec.is_empty() {
            return s;
        }
        if !break_recoverable(&g, &mut s, &rec) {
            // Defensive only (a recoverable cell always lies in a published equation):
            // withholding every margin leaves no equation at all.
            s.row_margin_published.iter_mut().for_each(|p| *p = false);
            s.col_margin_published.iter_mut().for_each(|p| *p = false);
            s.grand_total_published = false;
        }
    }
}

/// Step 3a: no published line may hold exactly one suppressed cell.
fn balance_lines(g: &Grid, s: &mut Suppression) {
    loop {
        let mut changed = false;
        let lines = (0..g.rows).map(Line::Row).chain((0..g.cols).map(Line::Col));
        for line in lines {
            if !s.published(line) || g.suppressed_in(s, line) != 1 {
                continue;
            }
            if let Some(cell) = g.best_candidate(s, line, false) {
                s.complementary.insert(cell);
            } else {
                set_margin(s, line, false);
            }
            changed = true;
        }
        if !changed {
            return;
        }
    }
}

/// Step 3b: one more complement (or one withheld margin) per recoverable cell, skipping cells
/// whose row or column was already changed in this pass. Returns whether anything changed.
fn break_recoverable(g: &Grid, s: &mut Suppression, rec: &[(usize, usize)]) -> bool {
    let mut touched_rows = vec![false; g.rows];
    let mut touched_cols = vec![false; g.cols];
    let mut changed = false;
    for &(r, c) in rec {
        if touched_rows[r] || touched_cols[c] {
            continue;
        }
        let (row_pub, col_pub) = (s.published(Line::Row(r)), s.published(Line::Col(c)));
        // Lines with a published margin first: a complement there enters an equation directly.
        let order = [(Line::Row(r), row_pub), (Line::Col(c), col_pub)];
        let pick = order
            .iter()
            .filter(|(_, p)| *p)
            .chain(order.iter().filter(|(_, p)| !*p))
            .find_map(|&(line, _)| g.best_candidate(s, line, true));
        changed |= match pick {
            Some(cell) => {
                s.complementary.insert(cell);
                touched_rows[cell.0] = true;
                touched_cols[cell.1] = true;
                true
            }
            None if row_pub => set_margin(s, Line::Row(r), false),
            None if col_pub => set_margin(s, Line::Col(c), false),
            None => std::mem::replace(&mut s.grand_total_published, false),
        };
        touched_rows[r] = true;
        touched_cols[c] = true;
    }
    changed
}

/// Sets a margin flag; returns whether it changed.
fn set_margin(s: &mut Suppression, line: Line, published: bool) -> bool {
    let flag = match line {
        Line::Row(r) => s.row_margin_published.get_mut(r),
        Line::Col(c) => s.col_margin_published.get_mut(c),
    };
    flag.is_some_and(|f| std::mem::replace(f, published) != published)
}

/// The suppressed cells whose value is uniquely determined by the published cells and margins.
///
/// Unknowns are the suppressed cells (primary ∪ complementary, inside the table). Equations:
/// for each published row margin, the sum of that row's unknowns (= margin − published cells);
/// likewise for columns and, if published, the grand total. A cell is determined iff its unit
/// vector lies in the row space of the constraint matrix, found with one Gauss–Jordan
/// elimination (partial pivoting, tolerance 1e-9): a pivot variable is determined iff its row of
/// the reduced row echelon form has no non-zero coefficient on a free variable. Independent of
/// the heuristic in [`suppress`]. Result in (row, column) order.
pub fn recoverable(table: &Table, s: &Suppression) -> Vec<(usize, usize)> {
    let (rows, cols) = (table.rows(), table.cols());
    let unknowns: Vec<(usize, usize)> =
        s.primary.union(&s.complementary).copied().filter(|&(r, c)| r < rows && c < cols).collect();
    let n = unknowns.len();
    // One equation per published margin, a 0/1 coefficient per unknown.
    let lines = (0..rows).map(Line::Row).chain((0..cols).map(Line::Col)).filter(|&line| s.published(line));
    let mut matrix: Vec<Vec<f64>> =
        lines.map(|line| unknowns.iter().map(|&cell| f64::from(u8::from(line.contains(cell)))).collect()).collect();
    if s.grand_total_published {
        matrix.push(vec![1.0; n]);
    }
    let determined = determined_variables(&mut matrix, n);
    unknowns.into_iter().zip(determined).filter_map(|(cell, d)| d.then_some(cell)).collect()
}

/// Reduces `m` (equations × `n` variables) to RREF and returns, per variable, whether it is
/// determined (pivot variable whose RREF row is zero on every free variable).
fn determined_variables(m: &mut [Vec<f64>], n: usize) -> Vec<bool> {
    let mut pivots: Vec<usize> = Vec::new();
    for col in 0..n {
        let rank = pivots.len();
        if rank == m.len() {
            break;
        }
        let best = (rank..m.len()).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()));
        let Some(best) = best.filter(|&b| m[b][col].abs() > TOL) else {
            continue;
        };
        m.swap(rank, best);
        let p = m[rank][col];
        m[rank][col..].iter_mut().for_each(|v| *v /= p);
        let pivot_row = m[rank].clone();
        for (i, row) in m.iter_mut().enumerate() {
            let f = row[col];
            if i == rank || f == 0.0 {
                continue;
            }
            for (v, &pv) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *v -= f * pv;
                if v.abs() <= TOL {
                    *v = 0.0;
                }
            }
            row[col] = 0.0;
        }
        pivots.push(col);
    }
    let mut is_pivot = vec![false; n];
    pivots.iter().for_each(|&c| is_pivot[c] = true);
    let mut determined = vec![false; n];
    for (row, &pc) in m.iter().zip(&pivots) {
        determined[pc] = row.iter().zip(&is_pivot).all(|(v, &piv)| piv || v.abs() <= TOL);
    }
    determined
}

/// Quantile by linear interpolation between order statistics (Hyndman–Fan type 7, numpy's
/// default). `None` when `values` is empty or `p` is not within 0..=1.
pub fn quantile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() || !(0.0..=1.0).contains(&p) {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let h = (v.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    Some(v[lo] + (h - lo as f64) * (v[hi] - v[lo]))
}

/// Percentile rank of `x` (0..=100): share of values strictly below `x` plus half the share of
/// values equal to it, × 100. `None` when `values` is empty.
pub fn percentile_rank(values: &[f64], x: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let below = values.iter().filter(|&&v| v < x).count() as f64;
    let equal = values.iter().filter(|&&v| v == x).count() as f64;
    Some((below + 0.5 * equal) / values.len() as f64 * 100.0)
}

/// Peer-group roll-up: `levels` are the candidate groups from narrowest to widest (each the firm
/// values of that group). Returns the index of the narrowest level passing [`passes`], or `None`.
pub fn narrowest_passing(levels: &[&[f64]], t: &Thresholds) -> Option<usize> {
    levels.iter().position(|level| passes(level, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64 (deterministic, no crates).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            let x = &mut self.0;
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            *x
        }
        fn below(&mut self, n: usize) -> usize { (self.next() % n as u64) as usize }
        fn unit(&mut self) -> f64 { (self.next() >> 11) as f64 / (1u64 << 53) as f64 }
    }

    /// One cell in five empty, else `0..max_firms` firms; `skewed`: heavy-tailed values with
    /// rare giants (many dominance failures), else mildly skewed values.
    fn random_table(rng: &mut Rng, rows: usize, cols: usize, max_firms: usize, skewed: bool) -> Table {
        let value = |rng: &mut Rng| match (skewed, rng.below(25)) {
            (true, 0) => 1e5 * rng.unit(),
            (true, _) => 1000.0 * rng.unit().powi(4),
            (false, _) => 1.0 + 100.0 * rng.unit().powi(3),
        };
        let cell = |rng: &mut Rng| {
            let k = if rng.below(5) == 0 { 0 } else { rng.below(max_firms) };
            (0..k).map(|_| value(rng)).collect()
        };
        Table { cells: (0..rows).map(|_| (0..cols).map(|_| cell(rng)).collect()).collect() }
    }

    fn uniform_table(rows: usize, cols: usize, firms: usize) -> Table {
        Table { cells: vec![vec![vec![1.0; firms]; cols]; rows] }
    }

    fn all_published(rows: usize, cols: usize, primary: &[(usize, usize)]) -> Suppression {
        let (row_margin_published, col_margin_published) = (vec![true; rows], vec![true; cols]);
        let primary = primary.iter().copied().collect();
        Suppression { primary, row_margin_published, col_margin_published, grand_total_published: true, ..Suppression::default() }
    }

    fn gcd(a: i128, b: i128) -> i128 {
        if b == 0 { a } else { gcd(b, a % b) }
    }

    /// Exact rank by fraction-free integer elimination.
    fn int_rank(mut m: Vec<Vec<i128>>) -> usize {
        let n = m.first().map_or(0, Vec::len);
        let mut rank = 0;
        for col in 0..n {
            let Some(p) = (rank..m.len()).find(|&i| m[i][col] != 0) else { continue };
            m.swap(rank, p);
            let pivot = m[rank].clone();
            for row in m.iter_mut().skip(rank + 1).filter(|row| row[col] != 0) {
                let f = row[col];
                row.iter_mut().zip(&pivot).for_each(|(v, &pv)| *v = *v * pivot[col] - f * pv);
                let g = row.iter().fold(0, |g, &x| gcd(g, x.abs()));
                row.iter_mut().for_each(|x| *x /= g.max(1));
            }
            rank += 1;
        }
        rank
    }

    /// Brute force, built independently: cell j is determined iff appending e_j keeps the rank.
    fn brute_force(table: &Table, s: &Suppression) -> Vec<(usize, usize)> {
        let (rows, cols) = (table.cells.len(), table.cells[0].len());
        let all = (0..rows).flat_map(|r| (0..cols).map(move |c| (r, c)));
        let unknowns: Vec<(usize, usize)> = all.filter(|&(r, c)| s.is_suppressed(r, c)).collect();
        let eq = |pred: &dyn Fn(usize, usize) -> bool| -> Vec<i128> {
            unknowns.iter().map(|&(r, c)| i128::from(pred(r, c))).collect()
        };
        let mut m: Vec<Vec<i128>> = (0..rows).filter(|&r| s.row_margin_published[r]).map(|r| eq(&|rr, _| rr == r)).collect();
        m.extend((0..cols).filter(|&c| s.col_margin_published[c]).map(|c| eq(&|_, cc| cc == c)));
        m.extend(s.grand_total_published.then(|| eq(&|_, _| true)));
        let base = int_rank(m.clone());
        (0..unknowns.len())
            .filter(|&j| {
                let mut aug = m.clone();
                aug.push((0..unknowns.len()).map(|k| i128::from(k == j)).collect());
                int_rank(aug) == base
            })
            .map(|j| unknowns[j])
            .collect()
    }

    #[test]
    fn primary_rule() {
        let t = Thresholds::default();
        assert_eq!(t, Thresholds { min_firms: 10, max_top2_share: 0.85 });
        assert!(!passes(&[1.0; 9], &t));
        assert!(passes(&[1.0; 10], &t));
        let mut dominant = vec![1.0; 9];
        dominant.push(81.0); // 81 of 90 = 90 %
        assert!(!passes(&dominant, &t));
        // Top two hold exactly 85 of 100.
        let mut exact = vec![15.0 / 8.0; 8];
        exact.extend([50.0, 35.0]);
        assert!(passes(&exact, &t));
        exact[9] += 0.01;
        assert!(!passes(&exact, &t));
        assert!(passes(&[0.0; 10], &t));
        assert!(!passes(&[0.0; 9], &t));
    }

    #[test]
    fn quantiles_and_ranks() {
        let v = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&v, 0.25), Some(1.75));
        assert_eq!(quantile(&v, 0.5), Some(2.5));
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&v, 1.0), Some(4.0));
        let q = quantile(&[50.0, 10.0, 30.0, 20.0, 40.0], 0.9).unwrap();
        assert!((q - 46.0).abs() < 1e-12);
        assert_eq!(quantile(&[7.0], 0.3), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&v, 1.5), None);
        assert_eq!(percentile_rank(&v, 3.0), Some(62.5));
        assert_eq!(percentile_rank(&[1.0, 2.0, 2.0, 3.0], 2.0), Some(50.0));
        assert_eq!(percentile_rank(&v, 0.0), Some(0.0));
        assert_eq!(percentile_rank(&v, 5.0), Some(100.0));
        assert_eq!(percentile_rank(&[], 1.0), None);
    }

    #[test]
    fn peer_group_roll_up() {
        let t = Thresholds::default();
        let (narrow, wide) = (vec![1.0; 9], vec![1.0; 12]);
        assert_eq!(narrowest_passing(&[&narrow, &wide], &t), Some(1));
        assert_eq!(narrowest_passing(&[&wide, &narrow], &t), Some(0));
        assert_eq!(narrowest_passing(&[&narrow, &narrow[..3]], &t), None);
        assert_eq!(narrowest_passing(&[], &t), None);
    }

    #[test]
    fn three_by_three_rectangle() {
        let mut table = Table {
            cells: (0..3).map(|r| (0..3).map(|c| vec![1.0 + (3 * r + c) as f64; 12]).collect()).collect(),
        };
        table.cells[1][1] = vec![5.0; 3];
        let s = suppress(&table, &Thresholds::default());
        assert_eq!(s.primary, BTreeSet::from([(1, 1)]));
        // Smallest totals win: (1,0) for row 1, (0,1) for column 1, then (0,0) closes the rectangle.
        assert_eq!(s.complementary, BTreeSet::from([(0, 0), (0, 1), (1, 0)]), "{s:?}");
        assert_eq!(s.count(), 4);
        assert!(s.row_margin_published.iter().chain(&s.col_margin_published).all(|&p| p));
        assert!(s.grand_total_published);
        let rectangle = (0..3).filter(|&r| r != 1).any(|r| {
            (0..3).filter(|&c| c != 1).any(|c| s.is_suppressed(1, c) && s.is_suppressed(r, 1) && s.is_suppressed(r, c))
        });
        assert!(rectangle, "{s:?}");
        assert!(recoverable(&table, &s).is_empty());
        // The checker can fail: the primary cell alone is recovered from its row margin.
        assert_eq!(recoverable(&table, &all_published(3, 3, &[(1, 1)])), vec![(1, 1)]);
    }

    #[test]
    fn bridge_between_two_rectangles_is_determined() {
        let table = uniform_table(4, 4, 12);
        let mut s = all_published(4, 4, &[(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3)]);
        assert!(recoverable(&table, &s).is_empty());
        s.complementary.insert((0, 2));
        assert_eq!(recoverable(&table, &s), vec![(0, 2)]);
        assert_eq!(brute_force(&table, &s), vec![(0, 2)]);
        // Closing a cycle through the bridge protects it.
        s.complementary.insert((0, 3));
        assert!(recoverable(&table, &s).is_empty());
    }

    #[test]
    fn grand_total_and_unpublished_margins() {
        let table = uniform_table(3, 3, 12);
        let mut s = all_published(3, 3, &[(0, 0)]);
        s.row_margin_published[0] = false;
        s.col_margin_published[0] = false;
        assert_eq!(recoverable(&table, &s), vec![(0, 0)]); // grand total − published cells
        s.grand_total_published = false;
        assert!(recoverable(&table, &s).is_empty());
        assert!(recoverable(&table, &Suppression::default()).is_empty());
    }

    #[test]
    fn small_row_margin_is_withheld_and_empty_cells_untouched() {
        let mut table = uniform_table(3, 4, 12);
        table.cells[0] = vec![vec![1.0; 3], vec![], vec![2.0; 4], vec![]];
        let s = suppress(&table, &Thresholds::default());
        assert!(!s.row_margin_published[0]);
        assert!(s.primary.contains(&(0, 0)) && s.primary.contains(&(0, 2)));
        assert!(!s.is_suppressed(0, 1) && !s.is_suppressed(0, 3));
        assert!(recoverable(&table, &s).is_empty());
    }

    #[test]
    fn randomised_suppression_is_safe() {
        let t = Thresholds::default();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut complements = 0;
        for _ in 0..200 {
            let (rows, cols) = (2 + rng.below(7), 2 + rng.below(7));
            let skewed = rng.below(4) != 0;
            let table = random_table(&mut rng, rows, cols, 31, skewed);
            let s = suppress(&table, &t);
            assert!(recoverable(&table, &s).is_empty(), "{table:?}\n{s:?}");
            assert!(brute_force(&table, &s).is_empty(), "{table:?}\n{s:?}");
            for (r, c) in (0..rows).flat_map(|r| (0..cols).map(move |c| (r, c))) {
                let v = &table.cells[r][c];
                assert_eq!(s.primary.contains(&(r, c)), !v.is_empty() && !passes(v, &t));
                assert!(!v.is_empty() || !s.is_suppressed(r, c), "empty cell suppressed");
            }
            assert!(s.primary.is_disjoint(&s.complementary));
            complements += s.complementary.len();
            for r in (0..rows).filter(|&r| s.row_margin_published[r]) {
                assert!(passes(&table.cells[r].concat(), &t));
            }
            for c in (0..cols).filter(|&c| s.col_margin_published[c]) {
                assert!(passes(&table.cells.iter().flat_map(|row| row[c].clone()).collect::<Vec<_>>(), &t));
            }
            assert!(!s.grand_total_published || passes(&table.cells.concat().concat(), &t));
        }
        assert!(complements > 50, "heuristic barely exercised: {complements}");
    }

    #[test]
    fn checker_matches_brute_force_rank_test() {
        let mut rng = Rng(0x1234_5678_9ABC_DEF1);
        let mut nontrivial = 0;
        for _ in 0..400 {
            let (rows, cols) = (2 + rng.below(4), 2 + rng.below(4));
            let table = uniform_table(rows, cols, 1);
            let mut s = Suppression {
                row_margin_published: (0..rows).map(|_| rng.below(5) != 0).collect(),
                col_margin_published: (0..cols).map(|_| rng.below(5) != 0).collect(),
                grand_total_published: rng.below(2) == 0,
                ..Suppression::default()
            };
            s.primary = (0..rows).flat_map(|r| (0..cols).map(move |c| (r, c))).filter(|_| rng.below(5) < 2).collect();
            let (fast, slow) = (recoverable(&table, &s), brute_force(&table, &s));
            assert_eq!(fast, slow, "{s:?}");
            if !fast.is_empty() && fast.len() < s.count() {
                nontrivial += 1;
            }
        }
        assert!(nontrivial > 20, "only {nontrivial} informative cases");
    }

    #[test]
    fn national_sized_table_runs() {
        let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
        for (max_firms, skewed) in [(40, false), (31, true)] {
            let table = random_table(&mut rng, 90, 22, max_firms, skewed);
            let s = suppress(&table, &Thresholds::default());
            assert!(s.primary.len() > 200, "{}", s.primary.len());
            assert!(recoverable(&table, &s).is_empty());
        }
    }
}
