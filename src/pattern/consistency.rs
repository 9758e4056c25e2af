//! Array consistency: can one value be picked per condition so that no two picked
//! values come from different elements of the same array?
//!
//! Conditions whose values live in unrelated arrays cannot conflict, so the question
//! splits into independent components (grouped by outermost array). When a component's
//! values all sit in one array, every condition must use the same element of it: the
//! values are grouped by element and each element is solved one level deeper, so every
//! value is looked at once per level. Mixed components (rare: dotted keys reaching one
//! path through different arrays) are searched depth-first with forward checking.

use super::flatten::{ArrayPos, consistent};

/// Steps one component's search may take before it gives up (answering "no").
pub const SEARCH_BUDGET: u32 = 1_000_000;

/// `options[i]` are the trails of the values satisfying condition `i`. True when one
/// trail per condition can be chosen, all pairwise consistent.
pub fn choose_consistent(options: &[Vec<&[ArrayPos]>]) -> bool {
    solve(options.to_vec())
}

/// Solves one level: free conditions drop out, the rest split into components by
/// outermost array. A component whose values all sit in one array must pick one
/// element of it for everybody, so it is solved element by element one level deeper
/// (each value is looked at once per level); a mixed component falls back to search.
fn solve(options: Vec<Vec<&[ArrayPos]>>) -> bool {
    // A condition met by a value outside any (further) array fits with everything.
    let mut lists: Vec<Vec<&[ArrayPos]>> = options
        .into_iter()
        .filter(|list| !list.iter().any(|t| t.is_empty()))
        .collect();
    if lists.iter().any(Vec::is_empty) {
        return false;
    }
    if lists.len() < 2 {
        return true;
    }
    for list in &mut lists {
        list.sort_unstable();
        list.dedup();
    }
    components(&lists).into_iter().all(|component| {
        let group: Vec<Vec<&[ArrayPos]>> =
            component.into_iter().map(|i| lists[i].clone()).collect();
        let outer_of = |t: &&[ArrayPos]| t.first().map(|p| p.array);
        let outer = group.first().and_then(|l| l.first()).and_then(outer_of);
        if group.iter().flatten().all(|t| outer_of(t) == outer) {
            by_element(&group)
        } else {
            let mut group = group;
            group.sort_by_key(Vec::len);
            let mut budget = SEARCH_BUDGET;
            search(&group, &mut Vec::new(), &mut budget)
        }
    })
}

/// All values sit in one array: some element must hold a value for every condition,
/// consistently in whatever arrays lie deeper.
fn by_element(group: &[Vec<&[ArrayPos]>]) -> bool {
    let per_list: Vec<std::collections::BTreeMap<u32, Vec<&[ArrayPos]>>> = group
        .iter()
        .map(|list| {
            let mut by_index: std::collections::BTreeMap<u32, Vec<&[ArrayPos]>> =
                std::collections::BTreeMap::new();
            for trail in list {
                if let Some((head, deeper)) = trail.split_first() {
                    by_index.entry(head.index).or_default().push(deeper);
                }
            }
            by_index
        })
        .collect();
    let Some((first, rest)) = per_list.split_first() else {
        return true;
    };
    first.keys().any(|index| {
        let mut deeper = Vec::with_capacity(per_list.len());
        for map in std::iter::once(first).chain(rest) {
            match map.get(index) {
                Some(trails) => deeper.push(trails.clone()),
                None => return false,
            }
        }
        solve(deeper)
    })
}

/// Groups list indices that share an outermost array (union-find).
fn components(lists: &[Vec<&[ArrayPos]>]) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..lists.len()).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut owner = std::collections::HashMap::new();
    for (i, list) in lists.iter().enumerate() {
        for trail in list {
            if let Some(outer) = trail.first() {
                let other = *owner.entry(outer.array).or_insert(i);
                let (a, b) = (find(&mut parent, i), find(&mut parent, other));
                parent[a] = b;
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> =
        std::collections::BTreeMap::new();
    for i in 0..lists.len() {
        let root = find(&mut parent, i);
        groups.entry(root).or_default().push(i);
    }
    groups.into_values().collect()
}

/// Depth-first search with forward checking: after each pick, the remaining lists keep
/// only the trails consistent with it, and an emptied list cuts the branch.
fn search<'a>(
    lists: &[Vec<&'a [ArrayPos]>],
    chosen: &mut Vec<&'a [ArrayPos]>,
    budget: &mut u32,
) -> bool {
    let Some((first, rest)) = lists.split_first() else {
        return true;
    };
    for &trail in first {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        let mut narrowed: Vec<Vec<&[ArrayPos]>> = Vec::with_capacity(rest.len());
        let mut dead = false;
        for list in rest {
            let kept: Vec<&[ArrayPos]> = list
                .iter()
                .copied()
                .filter(|t| consistent(trail, t))
                .collect();
            if kept.is_empty() {
                dead = true;
                break;
            }
            narrowed.push(kept);
        }
        if dead {
            continue;
        }
        narrowed.sort_by_key(Vec::len);
        chosen.push(trail);
        if search(&narrowed, chosen, budget) {
            return true;
        }
        chosen.pop();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(array: u32, index: u32) -> ArrayPos {
        ArrayPos { array, index }
    }

    #[test]
    fn same_element_required_within_one_array() {
        let a0 = [pos(0, 0)];
        let a1 = [pos(0, 1)];
        assert!(!choose_consistent(&[vec![&a0[..]], vec![&a1[..]]]));
        assert!(choose_consistent(&[vec![&a0[..], &a1[..]], vec![&a1[..]]]));
        assert!(choose_consistent(&[vec![&a0[..]], vec![&[][..]]]));
    }

    #[test]
    fn disjoint_halves_of_a_large_array_are_rejected_quickly() {
        // x only in elements 0..20000, y only in 20000..40000: no element has both.
        let xs: Vec<Vec<ArrayPos>> = (0..20_000).map(|i| vec![pos(0, i)]).collect();
        let ys: Vec<Vec<ArrayPos>> = (20_000..40_000).map(|i| vec![pos(0, i)]).collect();
        let lists = vec![
            xs.iter().map(Vec::as_slice).collect::<Vec<_>>(),
            ys.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        ];
        assert!(!choose_consistent(&lists));
        let mut with_shared = lists.clone();
        let shared = [pos(0, 7)];
        with_shared[1].push(&shared[..]);
        assert!(choose_consistent(&with_shared));
    }

    #[test]
    fn nested_arrays_are_solved_level_by_level() {
        // o[0].i[1] holds x and y; o[1].i[0] holds only y.
        let x = [pos(0, 0), pos(1, 1)];
        let y1 = [pos(0, 1), pos(2, 0)];
        let y2 = [pos(0, 0), pos(1, 1)];
        let y3 = [pos(0, 0), pos(1, 0)];
        assert!(choose_consistent(&[vec![&x[..]], vec![&y1[..], &y2[..]]]));
        assert!(!choose_consistent(&[vec![&x[..]], vec![&y1[..], &y3[..]]]));
    }

    #[test]
    fn independent_arrays_do_not_multiply_the_search() {
        // x and y share array 0 and only element 3 holds both; eight other conditions
        // each have four choices in arrays of their own: 4^8 combinations per wrong x.
        let xs: Vec<Vec<ArrayPos>> = [0, 1, 2, 3].iter().map(|&i| vec![pos(0, i)]).collect();
        let ys: Vec<Vec<ArrayPos>> = [3, 4, 5, 6, 7].iter().map(|&i| vec![pos(0, i)]).collect();
        let others: Vec<Vec<Vec<ArrayPos>>> = (1..=8)
            .map(|a| (0..4).map(|i| vec![pos(a, i)]).collect())
            .collect();
        let mut lists: Vec<Vec<&[ArrayPos]>> = vec![
            xs.iter().map(Vec::as_slice).collect(),
            ys.iter().map(Vec::as_slice).collect(),
        ];
        lists.extend(others.iter().map(|o| o.iter().map(Vec::as_slice).collect()));
        assert!(choose_consistent(&lists));
    }
}
