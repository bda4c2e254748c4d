//! Union-find whose root is always the smallest member, so components and their labels do not
//! depend on the order in which unions happen.

/// Disjoint sets over `0..n` (`n < 2**32`).
#[derive(Clone, Debug)]
pub struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    pub fn new(n: usize) -> Self {
        assert!(
            n <= u32::MAX as usize,
            "union-find holds at most 2**32 - 1 elements"
        );
        UnionFind {
            parent: (0..n as u32).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// The smallest member of `x`'s set (path halving).
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    /// Merge the sets of `a` and `b`; the smaller root becomes the root. True if they were apart.
    pub fn union(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[hi as usize] = lo;
        true
    }

    /// Label of every element: the smallest id of its set.
    pub fn labels(&mut self) -> Vec<u32> {
        (0..self.parent.len() as u32)
            .map(|x| self.find(x))
            .collect()
    }

    /// Number of sets.
    pub fn components(&self) -> usize {
        self.parent
            .iter()
            .enumerate()
            .filter(|(i, &p)| *i as u32 == p)
            .count()
    }
}

/// Which member of a cluster is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// The lowest id (the first document in input order).
    First,
    /// The longest document; ties go to the lowest id.
    Longest,
}

impl Keep {
    pub fn parse(name: &str) -> crate::Result<Self> {
        match name {
            "first" => Ok(Keep::First),
            "longest" => Ok(Keep::Longest),
            other => Err(crate::Error::InvalidArgument(format!(
                "keep must be 'first' or 'longest', not {other:?}"
            ))),
        }
    }
}

/// Keep mask from cluster labels (label = smallest member). With `Keep::Longest`, `lengths`
/// picks the longest member of each cluster (ties to the lowest id).
pub fn keep_mask(labels: &[u32], keep: Keep, lengths: Option<&[u64]>) -> Vec<bool> {
    match (keep, lengths) {
        (Keep::Longest, Some(lengths)) => {
            assert_eq!(lengths.len(), labels.len());
            // best[label] = id of the current best member
            let mut best: Vec<u32> = (0..labels.len() as u32).collect();
            for (i, &label) in labels.iter().enumerate() {
                let cur = best[label as usize] as usize;
                if lengths[i] > lengths[cur] {
                    best[label as usize] = i as u32;
                }
            }
            labels
                .iter()
                .enumerate()
                .map(|(i, &l)| best[l as usize] as usize == i)
                .collect()
        }
        _ => labels
            .iter()
            .enumerate()
            .map(|(i, &l)| l as usize == i)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_whatever_the_union_order() {
        let edges = [(5u32, 3u32), (3, 9), (1, 7), (7, 2), (9, 8), (4, 4)];
        let mut reference: Option<Vec<u32>> = None;
        // All rotations and the reversed order give the same labels.
        for rot in 0..edges.len() {
            for rev in [false, true] {
                let mut order: Vec<_> = edges.iter().cycle().skip(rot).take(edges.len()).collect();
                if rev {
                    order.reverse();
                }
                let mut uf = UnionFind::new(10);
                for &&(a, b) in &order {
                    uf.union(a, b);
                }
                let labels = uf.labels();
                match &reference {
                    None => reference = Some(labels),
                    Some(r) => assert_eq!(r, &labels),
                }
            }
        }
        let labels = reference.unwrap();
        assert_eq!(labels, vec![0, 1, 1, 3, 4, 3, 6, 1, 3, 3]);
        let mut uf = UnionFind::new(10);
        for &(a, b) in &edges {
            uf.union(a, b);
        }
        assert_eq!(uf.components(), 5);
    }

    #[test]
    fn keep_rules() {
        let labels = vec![0, 0, 2, 0, 2];
        assert_eq!(
            keep_mask(&labels, Keep::First, None),
            vec![true, false, true, false, false]
        );
        let lengths = vec![5, 9, 3, 9, 3];
        assert_eq!(
            keep_mask(&labels, Keep::Longest, Some(&lengths)),
            vec![false, true, true, false, false]
        );
    }
}
