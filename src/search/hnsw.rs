//! A hierarchical navigable small-world graph (Malkov and Yashunin, 2016) over int8-quantised
//! unit vectors: the approximate half of the embedded vector index.
//!
//! Nodes are numbered in the order they are added and linked into the graph one at a time
//! ([`Graph::link`]), so a caller can add many and link them in the background. The graph
//! knows vectors only; which nodes a search accepts (alive, passing a filter) is the caller's
//! closure, applied while the graph is walked: rejected nodes are still walked through, so a
//! selective filter does not cut the graph apart, and the walk gives up after a bounded number
//! of visits so the caller can scan exactly instead.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Neighbours kept per node on the upper layers.
const M: usize = 16;
/// Neighbours kept per node on the bottom layer, which every node is on.
const M0: usize = 2 * M;
/// Width of the search that finds a new node's neighbours.
const EF_CONSTRUCTION: usize = 128;

/// A vector quantised to int8 with its own scale: component `i` is about `codes[i] * scale`.
pub struct Code {
    pub(crate) codes: Vec<i8>,
    pub(crate) scale: f32,
}

impl Code {
    /// Quantises a vector, scaling its largest component to ±127.
    pub fn of(vector: &[f32]) -> Self {
        let largest = vector.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
        // In range by construction: |x / scale| ≤ 127.
        #[allow(clippy::cast_possible_truncation)]
        let codes = vector.iter().map(|x| (x / scale).round() as i8).collect();
        Self { codes, scale }
    }
}

/// The integer dot product of two int8 vectors, in sixteen independent lanes so the compiler
/// can use SIMD.
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut lanes = [0i32; 16];
    let (chunks_a, chunks_b) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: i32 =
        chunks_a.remainder().iter().zip(chunks_b.remainder()).map(|(x, y)| i32::from(*x) * i32::from(*y)).sum();
    for (x, y) in chunks_a.zip(chunks_b) {
        for ((lane, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *lane += i32::from(*x) * i32::from(*y);
        }
    }
    lanes.iter().sum::<i32>() + tail
}

/// A node and its approximate similarity to the query, ordered by similarity.
#[derive(Clone, Copy)]
struct Near(f32, u32);

impl PartialEq for Near {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Near {}
impl PartialOrd for Near {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Near {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(other.1.cmp(&self.1))
    }
}

/// The `limit` best-scoring of `scored` (node or slot, similarity), by descending similarity;
/// of equal scores the lower number is kept.
pub fn best_of(scored: impl IntoIterator<Item = (u32, f32)>, limit: usize) -> Vec<(u32, f32)> {
    let mut kept: BinaryHeap<std::cmp::Reverse<Near>> = BinaryHeap::with_capacity(limit + 1);
    for (n, s) in scored {
        kept.push(std::cmp::Reverse(Near(s, n)));
        if kept.len() > limit {
            kept.pop();
        }
    }
    let mut best: Vec<(u32, f32)> = kept.into_iter().map(|std::cmp::Reverse(Near(s, n))| (n, s)).collect();
    best.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    best
}

/// Which nodes one walk has seen: a bit per node.
struct Visited(Vec<u64>);

impl Visited {
    fn new(nodes: usize) -> Self {
        Self(vec![0; nodes.div_ceil(64)])
    }

    /// Marks a node, returning whether it was new.
    fn insert(&mut self, node: u32) -> bool {
        let (word, bit) = ((node / 64) as usize, node % 64);
        let new = self.0[word] & (1 << bit) == 0;
        self.0[word] |= 1 << bit;
        new
    }
}

/// What a bounded walk found.
pub enum Walk {
    /// The best accepted nodes, by descending approximate similarity.
    Found(Vec<(u32, f32)>),
    /// The walk visited its allowance of nodes without finding enough accepted ones.
    GaveUp,
}

/// The graph and the quantised vectors of its nodes.
pub struct Graph {
    dimensions: usize,
    codes: Vec<i8>,
    scales: Vec<f32>,
    /// `links[node][layer]`: the node's neighbours on each layer it is on.
    links: Vec<Vec<Vec<u32>>>,
    /// The node every search starts from, on the top layer.
    entry: Option<u32>,
    /// State of the generator that draws each node's top layer.
    seed: u64,
}

impl Graph {
    /// An empty graph for vectors of `dimensions`.
    pub fn new(dimensions: usize) -> Self {
        Self {
            dimensions,
            codes: Vec::new(),
            scales: Vec::new(),
            links: Vec::new(),
            entry: None,
            seed: 0x9e37_79b9_7f4a_7c15,
        }
    }

    /// How many nodes were added.
    pub fn len(&self) -> usize {
        self.scales.len()
    }

    /// Whether no node was added.
    pub fn is_empty(&self) -> bool {
        self.scales.is_empty()
    }

    /// Bytes held by codes and links, for the memory report.
    pub fn bytes(&self) -> usize {
        self.codes.len()
            + self.scales.len() * 4
            + self
                .links
                .iter()
                .map(|layers| 24 + layers.iter().map(|l| 24 + l.capacity() * 4).sum::<usize>())
                .sum::<usize>()
    }

    /// Adds a node, not yet linked; returns its number.
    pub fn push(&mut self, vector: &[f32]) -> u32 {
        let code = Code::of(vector);
        self.codes.extend_from_slice(&code.codes);
        self.scales.push(code.scale);
        self.links.push(Vec::new());
        u32::try_from(self.scales.len() - 1).unwrap_or(u32::MAX)
    }

    /// Whether `node` holds the code of `vector`.
    pub fn holds(&self, node: u32, vector: &[f32]) -> bool {
        let code = Code::of(vector);
        (node as usize) < self.len()
            && self.code(node) == code.codes.as_slice()
            && self.scales[node as usize] == code.scale
    }

    fn code(&self, node: u32) -> &[i8] {
        let start = node as usize * self.dimensions;
        &self.codes[start..start + self.dimensions]
    }

    /// Approximate similarity of a node to a quantised query.
    pub fn similarity(&self, query: &Code, node: u32) -> f32 {
        dot_i8(&query.codes, self.code(node)) as f32 * query.scale * self.scales[node as usize]
    }

    fn between(&self, a: u32, b: u32) -> f32 {
        dot_i8(self.code(a), self.code(b)) as f32 * self.scales[a as usize] * self.scales[b as usize]
    }

    /// Draws a top layer: layer `l` or above with probability `M^-l`.
    fn draw_layer(&mut self) -> usize {
        // splitmix64: deterministic, so a rebuilt graph has the same shape.
        self.seed = self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let uniform = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        // Bounded: -ln of a uniform in (0, 1] over ln 16 stays below 14.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let layer = (-uniform.ln() / (M as f64).ln()) as usize;
        layer.min(12)
    }

    fn top_layer(&self) -> usize {
        self.entry.map_or(0, |e| self.links[e as usize].len() - 1)
    }

    /// Links an added node into the graph. Nodes must be linked in the order they were added.
    pub fn link(&mut self, node: u32) {
        let layer = self.draw_layer();
        self.links[node as usize] = vec![Vec::new(); layer + 1];
        let Some(mut entry) = self.entry else {
            self.entry = Some(node);
            return;
        };
        let query = Code { codes: self.code(node).to_vec(), scale: self.scales[node as usize] };
        let top = self.top_layer();
        for l in (layer + 1..=top).rev() {
            entry = self.greedy(&query, entry, l);
        }
        let mut visited = Visited::new(self.len());
        for l in (0..=layer.min(top)).rev() {
            let Walk::Found(near) =
                self.walk(&query, &[entry], EF_CONSTRUCTION, l, &|_| true, usize::MAX, &mut visited)
            else {
                continue;
            };
            visited = Visited::new(self.len());
            let most = if l == 0 { M0 } else { M };
            let chosen = self.select(near.iter().map(|&(n, s)| Near(s, n)).filter(|n| n.1 != node).collect(), M);
            for &neighbour in &chosen {
                self.links[neighbour as usize][l].push(node);
                if self.links[neighbour as usize][l].len() > most {
                    let candidates = self.links[neighbour as usize][l]
                        .iter()
                        .map(|&n| Near(self.between(neighbour, n), n))
                        .collect();
                    self.links[neighbour as usize][l] = self.select(candidates, most);
                }
            }
            if let Some(&(best, _)) = near.first() {
                entry = best;
            }
            self.links[node as usize][l] = chosen;
        }
        if layer > top {
            self.entry = Some(node);
        }
    }

    /// The neighbour-selection heuristic: take candidates from the nearest, skipping one that is
    /// nearer to a neighbour already taken than to the node (its direction is covered), then
    /// fill up with the skipped ones so clustered data stays well connected.
    fn select(&self, mut candidates: Vec<Near>, most: usize) -> Vec<u32> {
        candidates.sort_by(|a, b| b.cmp(a));
        let mut chosen: Vec<u32> = Vec::with_capacity(most);
        let mut skipped = Vec::new();
        for Near(similarity, candidate) in candidates {
            if chosen.len() == most {
                break;
            }
            if chosen.iter().all(|&c| self.between(candidate, c) < similarity) {
                chosen.push(candidate);
            } else {
                skipped.push(candidate);
            }
        }
        chosen.extend(skipped.into_iter().take(most - chosen.len()));
        chosen
    }

    /// The nearest node to `query` reachable greedily from `entry` on `layer`.
    fn greedy(&self, query: &Code, mut entry: u32, layer: usize) -> u32 {
        let mut best = self.similarity(query, entry);
        loop {
            let mut moved = false;
            for &n in &self.links[entry as usize][layer] {
                let s = self.similarity(query, n);
                if s > best {
                    (best, entry, moved) = (s, n, true);
                }
            }
            if !moved {
                return entry;
            }
        }
    }

    /// Beam search of width `ef` on one layer from `entries`, keeping only nodes `accept` takes
    /// and giving up after `max_visits` nodes.
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        query: &Code,
        entries: &[u32],
        ef: usize,
        layer: usize,
        accept: &dyn Fn(u32) -> bool,
        max_visits: usize,
        visited: &mut Visited,
    ) -> Walk {
        let mut candidates = BinaryHeap::new();
        let mut kept: BinaryHeap<std::cmp::Reverse<Near>> = BinaryHeap::with_capacity(ef + 1);
        let mut visits = 0usize;
        for &entry in entries {
            if visited.insert(entry) {
                let near = Near(self.similarity(query, entry), entry);
                candidates.push(near);
                if accept(entry) {
                    kept.push(std::cmp::Reverse(near));
                }
            }
        }
        while let Some(Near(similarity, node)) = candidates.pop() {
            if kept.len() >= ef && kept.peek().is_some_and(|worst| similarity < worst.0.0) {
                break;
            }
            for &n in self.links[node as usize].get(layer).map_or(&[][..], Vec::as_slice) {
                if !visited.insert(n) {
                    continue;
                }
                visits += 1;
                let s = self.similarity(query, n);
                if kept.len() < ef || kept.peek().is_some_and(|worst| s > worst.0.0) {
                    candidates.push(Near(s, n));
                    if accept(n) {
                        kept.push(std::cmp::Reverse(Near(s, n)));
                        if kept.len() > ef {
                            kept.pop();
                        }
                    }
                }
            }
            if visits > max_visits {
                return Walk::GaveUp;
            }
        }
        let mut found: Vec<(u32, f32)> = kept.into_iter().map(|std::cmp::Reverse(Near(s, n))| (n, s)).collect();
        found.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Walk::Found(found)
    }

    /// Up to `ef` accepted nodes near `query` among the linked ones, by descending approximate
    /// similarity; gives up after visiting `max_visits` nodes without filling the beam.
    pub fn search(&self, query: &Code, ef: usize, accept: &dyn Fn(u32) -> bool, max_visits: usize) -> Walk {
        let Some(mut entry) = self.entry else { return Walk::Found(Vec::new()) };
        for layer in (1..=self.top_layer()).rev() {
            entry = self.greedy(query, entry, layer);
        }
        self.walk(query, &[entry], ef, 0, accept, max_visits, &mut Visited::new(self.len()))
    }
}

/// Unit vectors scattered around `centres.0` random centres by `centres.1` (from a fixed
/// `seed`), like embeddings of a catalog's categories: test and measurement data for the index.
pub fn synthetic(count: usize, dimensions: usize, centres: (usize, f32), seed: u64) -> Vec<Vec<f32>> {
    let mut state = seed.max(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f32 / (1u64 << 53) as f32 - 0.5
    };
    let (count_of_centres, spread) = centres;
    let centres: Vec<Vec<f32>> =
        (0..count_of_centres.max(1)).map(|_| (0..dimensions).map(|_| next()).collect()).collect();
    (0..count)
        .map(|i| {
            let v: Vec<f32> = centres[i % centres.len()].iter().map(|c| c + spread * next()).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / norm).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clustered(count: usize, dimensions: usize, seed: u64) -> Vec<Vec<f32>> {
        synthetic(count, dimensions, (12, 0.6), seed)
    }

    fn exact(vectors: &[Vec<f32>], query: &[f32], k: usize, accept: &dyn Fn(u32) -> bool) -> Vec<u32> {
        let mut scored: Vec<(u32, f32)> = (0u32..)
            .zip(vectors)
            .filter(|(n, _)| accept(*n))
            .map(|(n, v)| (n, crate::search::vector::dot(v, query)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored.into_iter().take(k).map(|(n, _)| n).collect()
    }

    fn recall_at_10(filter: &dyn Fn(u32) -> bool) -> f64 {
        // Queries are drawn like the points but not inserted.
        let mut vectors = clustered(3_100, 32, 7);
        let queries = vectors.split_off(3_000);
        let mut graph = Graph::new(32);
        for v in &vectors {
            let node = graph.push(v);
            graph.link(node);
        }
        let mut found = 0usize;
        for query in &queries {
            let truth = exact(&vectors, query, 10, filter);
            let Walk::Found(near) = graph.search(&Code::of(query), 64, filter, usize::MAX) else { return 0.0 };
            let near: Vec<u32> = near.into_iter().take(10).map(|(n, _)| n).collect();
            found += truth.iter().filter(|n| near.contains(n)).count();
        }
        found as f64 / (queries.len() * 10) as f64
    }

    #[test]
    fn the_graph_finds_nearly_all_the_true_nearest_neighbours() {
        let recall = recall_at_10(&|_| true);
        assert!(recall >= 0.95, "recall@10 {recall}");
    }

    #[test]
    fn a_filter_applied_during_the_walk_keeps_recall() {
        let recall = recall_at_10(&|n| n % 10 == 3);
        assert!(recall >= 0.95, "recall@10 {recall}");
    }

    #[test]
    fn a_walk_that_finds_too_few_accepted_nodes_gives_up() {
        let vectors = clustered(2_000, 16, 3);
        let mut graph = Graph::new(16);
        for v in &vectors {
            let node = graph.push(v);
            graph.link(node);
        }
        assert!(matches!(graph.search(&Code::of(&vectors[5]), 32, &|n| n == 1_999, 200), Walk::GaveUp));
    }

    #[test]
    fn quantised_similarity_is_close_to_the_exact_one() {
        let vectors = clustered(50, 384, 11);
        let mut graph = Graph::new(384);
        for v in &vectors {
            graph.push(v);
        }
        let query = Code::of(&vectors[0]);
        for (n, v) in (0u32..).zip(&vectors) {
            let error = (graph.similarity(&query, n) - crate::search::vector::dot(v, &vectors[0])).abs();
            assert!(error < 0.02, "node {n}: error {error}");
        }
    }
}
