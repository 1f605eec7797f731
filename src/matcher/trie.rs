//! Every pattern's normalised bytes in one trie, laid out as a double array.
//!
//! Patterns only ever match from a word start, so finding them is an anchored walk: follow
//! the bytes after the word start down a trie until no pattern continues. A dense automaton
//! spends a row of its byte classes on every state; with terms in a dozen scripts that made
//! tables of ten megabytes, and every step of a walk a cache miss. Here a node's children sit
//! at `base + byte` in one array of 8-byte cells, each cell naming its parent (by the cell
//! that leads to the parent), so a step is one load and one comparison, and the whole trie
//! (about 1.4 MB for the shipped rules in thirty languages) stays in the nearer caches.
//!
//! A step's load depends on the one before it, so a walk costs a cache round trip a byte. Most
//! of a word's bytes after its first few lie on a path where the trie does not branch and no
//! pattern ends ("satell" → "ite"): such a path is a [`Chain`], up to 16 bytes compared at once
//! against the text, with the cell of the node it leads to kept in it, one load for the path.

/// One slot of the double array: the transition into a node from its parent.
#[derive(Clone, Copy, Debug)]
struct Cell {
    /// The cell that leads to the parent ([`ROOT`] for the root's children), or [`FREE`].
    check: u32,
    /// The base of this node's children ([`LEAF`] when it has none), with [`ENDS_HERE`] set
    /// when patterns end at this node.
    next: u32,
}

/// A cell no transition uses.
const FREE: u32 = u32::MAX;
/// The root's name in its children's checks: the root has no cell of its own.
const ROOT: u32 = u32::MAX - 1;
/// In [`Cell::next`]: some pattern ends at the node.
const ENDS_HERE: u32 = 1 << 31;
/// In [`Cell::next`] (and a [`Position`]'s base): the node's one way on is a [`Chain`], whose
/// index the other bits hold, rather than children at a base.
const CHAIN: u32 = 1 << 30;
/// The check of the cell of a node reached only through a chain: no node is named so, so no
/// byte looked up from another node's base takes it for a child.
const CHAINED: u32 = u32::MAX - 2;
/// Bytes a chain compares at once; a longer path is chains one after another.
const CHAIN_BYTES: usize = 16;
/// Paths shorter than this stay cells: a chain costs one load, as a step does.
const MIN_CHAIN: usize = 2;
/// The base of a node without children: no cell names a leaf as its parent, so a walk from a
/// leaf stops at the next byte wherever that lands.
const LEAF: u32 = 0;
/// Holes tried for one node's children before it is placed past the end of the array, so the
/// build stays linear in the patterns' bytes whatever their shape.
const HOLES_TRIED: usize = 256;

/// The patterns, walked byte by byte from a word start.
#[derive(Debug)]
pub(super) struct WordTrie {
    cells: Vec<Cell>,
    /// For a cell with [`ENDS_HERE`], the range of [`WordTrie::ends`] holding the patterns
    /// that end at its node; untouched elsewhere, so it stays out of the cache of a walk.
    end_ranges: Vec<(u32, u32)>,
    ends: Vec<u32>,
    chains: Vec<Chain>,
    root_base: u32,
}

/// A path of [`MIN_CHAIN`] to [`CHAIN_BYTES`] bytes from a node with one child, through nodes
/// where nothing ends and the trie does not branch, to the node where it does (or where a
/// pattern ends, or where the bytes ran out): that node's cell and what the cell holds. Its
/// 32 bytes never straddle a cache line.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(32))]
struct Chain {
    /// The path's bytes, zero past `len`.
    bytes: [u8; CHAIN_BYTES],
    len: u32,
    /// The cell of the node the path leads to, and its [`Cell::next`].
    target: u32,
    target_next: u32,
}

impl Chain {
    /// Whether `text` starts with the path.
    #[inline(always)]
    fn leads_on(&self, text: &[u8]) -> bool {
        let len = self.len as usize;
        match text.first_chunk::<CHAIN_BYTES>() {
            Some(ahead) => {
                // The path's bytes against the text's next sixteen at once, the bytes past the
                // path masked off; `len` is at least 2, so the shift stays below 128.
                let differ = u128::from_le_bytes(*ahead) ^ u128::from_le_bytes(self.bytes);
                differ & (u128::MAX >> (128 - 8 * len)) == 0
            }
            None => text.get(..len) == Some(&self.bytes[..len]),
        }
    }
}

/// Where a walk is: the node reached (the cell that leads to it) and its children's base.
#[derive(Clone, Copy, Debug)]
pub(super) struct Position {
    node: u32,
    base: u32,
}

/// The node reached by one step, when the trie has it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Step {
    cell: u32,
    next: u32,
}

impl Step {
    #[inline]
    pub(super) fn position(self) -> Position {
        Position {
            node: self.cell,
            base: self.next & !ENDS_HERE,
        }
    }
}

impl WordTrie {
    /// A trie of `texts`; pattern `i` is `texts[i]`. Empty texts are left out.
    pub(super) fn build(texts: &[String]) -> WordTrie {
        let tree = Tree::build(texts);
        Layout::new(&tree).finish(&tree)
    }

    #[inline]
    pub(super) fn start(&self) -> Position {
        Position {
            node: ROOT,
            base: self.root_base,
        }
    }

    /// Follows `bytes` from `at` until a node where patterns end, or until the trie has no
    /// continuation or the bytes run out (`None`); with the bytes consumed. Most steps of a
    /// walk pass nodes where nothing ends: this loop keeps only the node, the base and the
    /// offset live, where a walk that also tracks its occurrences spilled them to the stack
    /// on every byte.
    #[inline]
    pub(super) fn run_to_end(&self, mut at: Position, bytes: &[u8]) -> (usize, Option<Step>) {
        let cells = &self.cells[..];
        let mut walked = 0;
        loop {
            let (index, next) = if at.base & CHAIN != 0 {
                let chain = &self.chains[(at.base & !CHAIN) as usize];
                if !chain.leads_on(&bytes[walked..]) {
                    return (walked, None);
                }
                walked += chain.len as usize;
                (chain.target, chain.target_next)
            } else {
                let Some(&byte) = bytes.get(walked) else {
                    return (walked, None);
                };
                let index = at.base as usize + byte as usize;
                // Every base leaves room for 256 cells after it, so the lookup never misses.
                let cell = cells[index];
                if cell.check != at.node {
                    return (walked, None);
                }
                walked += 1;
                (index as u32, cell.next)
            };
            if next & ENDS_HERE != 0 {
                return (walked, Some(Step { cell: index, next }));
            }
            at = Position {
                node: index,
                base: next,
            };
        }
    }

    /// The patterns that end exactly at the node `step` reached.
    pub(super) fn ends(&self, step: Step) -> &[u32] {
        let (start, end) = self.end_ranges[step.cell as usize];
        &self.ends[start as usize..end as usize]
    }

    /// Bytes held: what one scan may have to keep in cache.
    pub(super) fn memory_usage(&self) -> usize {
        self.cells.len() * std::mem::size_of::<Cell>()
            + self.chains.len() * std::mem::size_of::<Chain>()
            + self.end_ranges.len() * std::mem::size_of::<(u32, u32)>()
            + self.ends.len() * std::mem::size_of::<u32>()
    }
}

/// The trie as linked nodes, before it is laid out.
struct Tree {
    /// Per node, its children by byte, sorted.
    children: Vec<Vec<(u8, u32)>>,
    /// Per node, the patterns that end there.
    ends: Vec<Vec<u32>>,
}

impl Tree {
    fn build(texts: &[String]) -> Tree {
        let mut tree = Tree {
            children: vec![Vec::new()],
            ends: vec![Vec::new()],
        };
        for (id, text) in texts.iter().enumerate() {
            if text.is_empty() {
                continue;
            }
            let mut node = 0;
            for &byte in text.as_bytes() {
                let children = &tree.children[node];
                node = match children.binary_search_by_key(&byte, |&(b, _)| b) {
                    Ok(found) => children[found].1 as usize,
                    Err(slot) => {
                        let child = tree.children.len();
                        tree.children[node].insert(slot, (byte, child as u32));
                        tree.children.push(Vec::new());
                        tree.ends.push(Vec::new());
                        child
                    }
                };
            }
            tree.ends[node].push(id as u32);
        }
        tree
    }

    /// The path from `node` down while the trie does not branch and no pattern ends, up to
    /// [`CHAIN_BYTES`] bytes, and the node it reaches, when it is long enough to be a
    /// [`Chain`].
    fn chain_from(&self, node: usize) -> Option<(Vec<u8>, usize)> {
        let mut path = Vec::new();
        let mut at = node;
        while let [(byte, child)] = self.children[at][..] {
            path.push(byte);
            at = child as usize;
            if path.len() == CHAIN_BYTES || !self.ends[at].is_empty() {
                break;
            }
        }
        (path.len() >= MIN_CHAIN).then_some((path, at))
    }
}

/// Places each node's children in the double array.
struct Layout {
    cells: Vec<Cell>,
    /// The free cells as a list in index order (`NONE` ends it), so that looking for room
    /// skips the used ones instead of stepping over them one by one for every node.
    next_free: Vec<u32>,
    prev_free: Vec<u32>,
    first_free: u32,
    last_free: u32,
}

/// The end of the free list.
const NONE: u32 = u32::MAX;

impl Layout {
    fn new(tree: &Tree) -> Layout {
        let mut layout = Layout {
            cells: Vec::new(),
            next_free: Vec::new(),
            prev_free: Vec::new(),
            first_free: NONE,
            last_free: NONE,
        };
        layout.grow(tree.children.len() + 512);
        // Cell 0 would need a base of 0, which means "no children".
        layout.take(0);
        layout
    }

    /// Adds free cells up to `len`.
    fn grow(&mut self, len: usize) {
        let old = self.cells.len();
        if old >= len {
            return;
        }
        self.cells.resize(
            len,
            Cell {
                check: FREE,
                next: LEAF,
            },
        );
        self.next_free.resize(len, NONE);
        self.prev_free.resize(len, NONE);
        for cell in old as u32..len as u32 {
            self.prev_free[cell as usize] = self.last_free;
            match self.last_free {
                NONE => self.first_free = cell,
                last => self.next_free[last as usize] = cell,
            }
            self.last_free = cell;
        }
    }

    /// Marks a cell used.
    fn take(&mut self, cell: usize) {
        let (prev, next) = (self.prev_free[cell], self.next_free[cell]);
        match prev {
            NONE => self.first_free = next,
            prev => self.next_free[prev as usize] = next,
        }
        match next {
            NONE => self.last_free = prev,
            next => self.prev_free[next as usize] = prev,
        }
    }

    /// A base at which every child byte of a node lands on a free cell; the cells it takes
    /// are marked used.
    fn place(&mut self, children: &[(u8, u32)]) -> u32 {
        let lowest = children[0].0 as usize;
        // A hole before `lowest + 1` would need a base below 1. Only the root places children
        // there (see `finish`), so this skips nothing after the first node.
        let mut hole = self.first_free;
        while hole != NONE && (hole as usize) <= lowest {
            hole = self.next_free[hole as usize];
        }
        let mut tried = 0;
        let base = loop {
            if tried == HOLES_TRIED || hole == NONE {
                // Past the end, where every cell is free.
                break self.cells.len() - lowest;
            }
            let base = hole as usize - lowest;
            self.grow(base + 257);
            if children
                .iter()
                .all(|&(byte, _)| self.cells[base + byte as usize].check == FREE)
            {
                break base;
            }
            tried += 1;
            hole = self.next_free[hole as usize];
        };
        self.grow(base + 257);
        for &(byte, _) in children {
            self.take(base + byte as usize);
        }
        base as u32
    }

    /// A cell for a node reached only through a chain: any free one, as no lookup from a
    /// base goes to it.
    fn take_free(&mut self) -> usize {
        if self.first_free == NONE {
            self.grow(self.cells.len() + 257);
        }
        let cell = self.first_free as usize;
        self.take(cell);
        cell
    }

    /// Lays out every node, breadth first from the root.
    fn finish(mut self, tree: &Tree) -> WordTrie {
        // Per node, its children's base, or `CHAIN` and its chain's index.
        let mut base_of = vec![LEAF; tree.children.len()];
        // Per node, its cell; nodes inside a chain have none and keep `ROOT`.
        let mut cell_of = vec![ROOT; tree.children.len()];
        let mut chains = Vec::new();
        // Per chain, the node it leads to.
        let mut chain_targets = Vec::new();
        let mut queue = std::collections::VecDeque::from([0usize]);
        while let Some(node) = queue.pop_front() {
            let children = &tree.children[node];
            if children.is_empty() {
                continue;
            }
            if let Some((path, target)) = tree.chain_from(node).filter(|_| node != 0) {
                let cell = self.take_free();
                self.cells[cell].check = CHAINED;
                cell_of[target] = cell as u32;
                base_of[node] = CHAIN | chains.len() as u32;
                let mut bytes = [0; CHAIN_BYTES];
                bytes[..path.len()].copy_from_slice(&path);
                chains.push(Chain {
                    bytes,
                    len: path.len() as u32,
                    target: cell as u32,
                    target_next: LEAF,
                });
                chain_targets.push(target);
                queue.push_back(target);
                continue;
            }
            let base = self.place(children);
            base_of[node] = base;
            if node == 0 {
                // The cells below 257 the root left free could only take a node whose
                // lowest child byte is below their index; leaving them unused keeps every
                // later search from stepping over them again.
                for cell in 1..257.min(self.cells.len()) {
                    if self.cells[cell].check == FREE
                        && !children
                            .iter()
                            .any(|&(byte, _)| base as usize + byte as usize == cell)
                    {
                        self.take(cell);
                    }
                }
            }
            for &(byte, child) in children {
                let cell = base as usize + byte as usize;
                self.cells[cell].check = cell_of[node];
                cell_of[child as usize] = cell as u32;
                queue.push_back(child as usize);
            }
        }
        assert!(
            self.cells.len() < CHAIN as usize && chains.len() < CHAIN as usize,
            "the trie outgrew its cells' numbering"
        );
        let mut end_ranges = vec![(0, 0); self.cells.len()];
        let mut ends = Vec::new();
        for node in 1..tree.children.len() {
            let cell = cell_of[node];
            if cell == ROOT {
                // Inside a chain: nothing ends there and nothing leads from it.
                continue;
            }
            let cell = cell as usize;
            let mut next = base_of[node];
            if !tree.ends[node].is_empty() {
                next |= ENDS_HERE;
                let start = ends.len() as u32;
                ends.extend_from_slice(&tree.ends[node]);
                end_ranges[cell] = (start, ends.len() as u32);
            }
            self.cells[cell].next = next;
        }
        for (chain, &target) in chains.iter_mut().zip(&chain_targets) {
            chain.target_next = self.cells[cell_of[target] as usize].next;
        }
        WordTrie {
            cells: self.cells,
            end_ranges,
            ends,
            chains,
            root_base: base_of[0],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pattern that starts at the beginning of `text`, with where it ends.
    fn walk(trie: &WordTrie, text: &str) -> Vec<(u32, usize)> {
        let mut found = Vec::new();
        let mut at = trie.start();
        let mut end = 0;
        while let (walked, Some(step)) = trie.run_to_end(at, &text.as_bytes()[end..]) {
            end += walked;
            found.extend(trie.ends(step).iter().map(|&id| (id, end)));
            at = step.position();
        }
        found
    }

    fn texts(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn finds_every_pattern_that_starts_at_the_walk_and_only_those() {
        let trie = WordTrie::build(&texts(&[
            "north",
            "north korea",
            "northern",
            "orth",
            "북한",
            "북",
            "спутник",
            "north",
        ]));
        assert_eq!(
            walk(&trie, "north korea launched"),
            vec![(0, 5), (7, 5), (1, 11)]
        );
        assert_eq!(walk(&trie, "northern lights"), vec![(0, 5), (7, 5), (2, 8)]);
        assert_eq!(walk(&trie, "orthodox"), vec![(3, 4)]);
        assert_eq!(walk(&trie, "북한은"), vec![(5, 3), (4, 6)]);
        assert_eq!(walk(&trie, "спутники"), vec![(6, 14)]);
        assert_eq!(walk(&trie, "nort"), vec![]);
        assert_eq!(walk(&trie, "south"), vec![]);
    }

    #[test]
    fn an_empty_set_or_empty_texts_match_nothing() {
        let trie = WordTrie::build(&texts(&["", ""]));
        assert_eq!(walk(&trie, "anything"), vec![]);
        let trie = WordTrie::build(&[]);
        assert_eq!(walk(&trie, "anything"), vec![]);
    }

    #[test]
    fn agrees_with_a_plain_scan_on_many_overlapping_patterns() {
        // Words that share prefixes in every script, including bytes at both ends of the
        // range, so children spread across the whole array.
        let mut words = Vec::new();
        for a in ["a", "ab", "\u{7f}", "é", "к", "북", "\u{10FFFF}"] {
            for b in ["", "b", "bc", "ы", "한", "~"] {
                for c in ["", " x", "*"] {
                    words.push(format!("{a}{b}{c}"));
                }
            }
        }
        let trie = WordTrie::build(&words);
        for text in &words {
            assert_eq!(
                sorted_walk(&trie, text),
                plain_starts(&words, text),
                "walking {text:?}"
            );
        }
    }

    /// Every pattern `text` starts with, by comparing each, sorted: what a walk must find.
    fn plain_starts(words: &[String], text: &str) -> Vec<(u32, usize)> {
        let mut starts: Vec<(u32, usize)> = words
            .iter()
            .enumerate()
            .filter(|(_, w)| text.starts_with(w.as_str()))
            .map(|(id, w)| (id as u32, w.len()))
            .collect();
        starts.sort();
        starts
    }

    fn sorted_walk(trie: &WordTrie, text: &str) -> Vec<(u32, usize)> {
        let mut found = walk(trie, text);
        found.sort();
        found
    }

    #[test]
    fn long_unbranching_paths_are_walked_whole_and_end_where_the_text_does() {
        // "satellite" hangs from "sa" by a long path where nothing branches; "sanction" and
        // "sanctions" share a path that ends at a pattern.
        let words = [
            "satellite launch vehicles",
            "sanction",
            "sanctions",
            "sa",
            "ab",
            "abcdefghijklmnopq",
            "abcdefghijklmnopqr",
        ];
        let trie = WordTrie::build(&texts(&words));
        assert!(!trie.chains.is_empty(), "no path was made a chain");
        assert!(trie.chains.iter().any(|c| c.len as usize == CHAIN_BYTES));
        assert_eq!(
            walk(&trie, "satellite launch vehicles"),
            vec![(3, 2), (0, 25)]
        );
        // Texts that stop inside such a path, or differ at its last byte, find only what
        // ended before.
        assert_eq!(walk(&trie, "satellite launch vehicle"), vec![(3, 2)]);
        assert_eq!(walk(&trie, "satellite launch vehiclez"), vec![(3, 2)]);
        assert_eq!(walk(&trie, "satellitX launch vehicles"), vec![(3, 2)]);
        assert_eq!(
            walk(&trie, "sanctions imposed"),
            vec![(3, 2), (1, 8), (2, 9)]
        );
        assert_eq!(walk(&trie, "sanctio"), vec![(3, 2)]);
        assert_eq!(
            walk(&trie, "abcdefghijklmnopqrs"),
            vec![(4, 2), (5, 17), (6, 18)]
        );
        assert_eq!(walk(&trie, "abcdefghijklmnop"), vec![(4, 2)]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// Words over a few letters share long paths and branch at any point: the walk must
        /// find exactly the patterns a plain comparison finds, from every word, whole or cut
        /// short.
        #[test]
        fn walks_agree_with_a_plain_scan_on_random_words(
            words in proptest::collection::vec("[ab ]{1,40}", 1..40),
            cut in 0usize..40,
        ) {
            let trie = WordTrie::build(&words);
            for text in &words {
                let text = &text[..text.len().saturating_sub(cut % 5)];
                proptest::prop_assert_eq!(
                    sorted_walk(&trie, text),
                    plain_starts(&words, text),
                    "walking {:?}",
                    text
                );
            }
        }
    }

    #[test]
    fn hostile_shapes_build_in_linear_space() {
        // Each node's children at both ends of the byte range: no hole ever fits them, so
        // they go past the end of the array, a bounded step each time.
        let words: Vec<String> = (0..20_000u32)
            .flat_map(|n| {
                let stem = format!("{n:05}");
                [format!("{stem}\u{1}"), format!("{stem}\u{10FFFF}")]
            })
            .collect();
        let bytes: usize = words.iter().map(String::len).sum();
        let trie = WordTrie::build(&words);
        assert!(
            trie.cells.len() <= 4 * bytes + 1024,
            "{} cells for {bytes} bytes",
            trie.cells.len()
        );
        assert_eq!(walk(&trie, "00042\u{1}"), vec![(84, 6)]);
    }
}
