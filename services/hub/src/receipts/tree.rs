//! The Merkle tree over the receipt log, with RFC 9162 hashing: a leaf is
//! `SHA-256(0x00 || entry)`, an inner node `SHA-256(0x01 || left || right)`.
//!
//! The tree and its proofs come from `tlog_tiles` (a port of Go's `sumdb/tlog`): the log keeps
//! "stored hashes" (every leaf hash and every complete subtree's hash, about two per leaf) by a
//! storage index, and proofs read a few of them. This module adds what the hub needs around it:
//! appending a batch knowing only the tree's frontier (so a writer reads `log n` hashes, not the
//! tree), and an in-memory tree for exports and offline verification.

use std::cell::RefCell;
use std::collections::HashMap;

use tlog_tiles::{
    EMPTY_HASH, Error, check_record, check_tree, prove_record, prove_tree, record_hash,
    stored_hash_count, stored_hash_index, stored_hashes_for_record_hash, tree_hash,
};
pub use tlog_tiles::{Hash, HashReader, RecordProof, TreeProof};

/// Why a proof or a tree computation failed.
pub type TreeError = Error;

/// The leaf hash of an entry: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    record_hash(entry)
}

/// The root of the empty tree (`SHA-256("")`).
pub const EMPTY_ROOT: Hash = EMPTY_HASH;

/// Storage indexes of the hashes a tree of `size` leaves needs to grow: the roots of its maximal
/// complete subtrees, left to right. They also give its root.
pub fn frontier(size: u64) -> Vec<u64> {
    let mut indexes = Vec::new();
    let mut start = 0u64;
    for level in (0..64u8).rev() {
        if size & (1u64 << level) != 0 {
            indexes.push(stored_hash_index(level, start >> level));
            start += 1u64 << level;
        }
    }
    indexes
}

/// Stored hashes held in memory by storage index: a frontier read from the database plus what
/// appending adds, or a whole tree.
#[derive(Debug, Default, Clone)]
pub struct MemoryHashes {
    hashes: HashMap<u64, Hash>,
}

impl MemoryHashes {
    /// Hashes by storage index.
    pub fn new(hashes: impl IntoIterator<Item = (u64, Hash)>) -> Self {
        Self {
            hashes: hashes.into_iter().collect(),
        }
    }

    /// Appends leaves to a tree of `size` leaves (this map must hold at least its frontier) and
    /// returns the new stored hashes with their indexes, in index order.
    pub fn append(
        &mut self,
        size: u64,
        leaves: impl IntoIterator<Item = Hash>,
    ) -> Result<Vec<(u64, Hash)>, TreeError> {
        let mut added = Vec::new();
        for (n, leaf) in (size..).zip(leaves) {
            let start = stored_hash_index(0, n);
            let new = stored_hashes_for_record_hash(n, leaf, &*self)?;
            for (offset, hash) in new.into_iter().enumerate() {
                let index = start + offset as u64;
                self.hashes.insert(index, hash);
                added.push((index, hash));
            }
        }
        Ok(added)
    }

    /// The root of the tree of `size` leaves.
    pub fn root(&self, size: u64) -> Result<Hash, TreeError> {
        tree_hash(size, self)
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn inclusion(&self, index: u64, size: u64) -> Result<RecordProof, TreeError> {
        prove_record(size, index, self)
    }

    /// The consistency proof from the tree of `from` leaves to the one of `to` leaves.
    pub fn consistency(&self, from: u64, to: u64) -> Result<TreeProof, TreeError> {
        prove_tree(to, from, self)
    }
}

impl HashReader for MemoryHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        indexes
            .iter()
            .map(|i| self.hashes.get(i).copied().ok_or(Error::IndexesNotInTree))
            .collect()
    }
}

/// Stored hashes per database row: the hash array is kept in blocks of this many consecutive
/// storage indexes, so a batch of appends writes a few rows instead of two per leaf. 1 KiB rows
/// stay below Postgres's TOAST threshold (about 2 KiB), so a block is never compressed or moved
/// out of line.
pub const BLOCK_HASHES: u64 = 32;

/// The block holding storage index `index`.
pub fn block_of(index: u64) -> u64 {
    index / BLOCK_HASHES
}

/// The blocks an append to a tree of `size` leaves reads: those of its frontier, and the
/// partly filled block the next hash goes into.
pub fn append_blocks(size: u64) -> Vec<u64> {
    let mut blocks: Vec<u64> = frontier(size).into_iter().map(block_of).collect();
    blocks.push(block_of(stored_hash_count(size)));
    blocks.sort_unstable();
    blocks.dedup();
    blocks
}

/// Storage indexes of the stored hashes an append to a tree of `size` leaves depends on: its
/// frontier, from which the new hashes are computed, and the hashes already in the partly
/// filled block, which the append rewrites whole. If the database holds these, appending from
/// them is right whatever else happened.
pub fn append_reads(size: u64) -> Vec<u64> {
    let next = stored_hash_count(size);
    let mut indexes = frontier(size);
    indexes.extend(block_of(next) * BLOCK_HASHES..next);
    indexes.sort_unstable();
    indexes.dedup();
    indexes
}

/// The blocks holding `indexes`.
pub fn blocks_of(indexes: &[u64]) -> Vec<u64> {
    let mut blocks: Vec<u64> = indexes.iter().copied().map(block_of).collect();
    blocks.sort_unstable();
    blocks.dedup();
    blocks
}

impl MemoryHashes {
    /// Stored hashes from block rows (block number, concatenated 32-byte hashes); `None` if a
    /// row is not a whole number of hashes or is longer than a block.
    pub fn from_blocks(rows: impl IntoIterator<Item = (u64, Vec<u8>)>) -> Option<Self> {
        let mut hashes = HashMap::new();
        for (block, bytes) in rows {
            if bytes.len() % 32 != 0 || bytes.len() as u64 > BLOCK_HASHES * 32 {
                return None;
            }
            for (offset, chunk) in bytes.chunks_exact(32).enumerate() {
                let hash = Hash(chunk.try_into().ok()?);
                hashes.insert(block * BLOCK_HASHES + offset as u64, hash);
            }
        }
        Some(Self { hashes })
    }

    /// Keeps only the hashes stored in `blocks` (sorted): what the next append needs.
    pub fn retain_blocks(&mut self, blocks: &[u64]) {
        self.hashes
            .retain(|index, _| blocks.binary_search(&block_of(*index)).is_ok());
    }

    /// The rows to write after appending `added` (from [`MemoryHashes::append`]): each block it
    /// touched, packed from the block's start as far as the hashes run.
    pub fn touched_blocks(&self, added: &[(u64, Hash)]) -> Vec<(u64, Vec<u8>)> {
        let indexes: Vec<u64> = added.iter().map(|(i, _)| *i).collect();
        blocks_of(&indexes)
            .into_iter()
            .map(|block| {
                let start = block * BLOCK_HASHES;
                let bytes = (start..start + BLOCK_HASHES)
                    .map_while(|i| self.hashes.get(&i))
                    .flat_map(|h| h.0)
                    .collect();
                (block, bytes)
            })
            .collect()
    }
}

/// A whole tree built from its leaf hashes, in memory: what an export and an offline check use.
pub fn build(leaves: impl IntoIterator<Item = Hash>) -> Result<(MemoryHashes, u64), TreeError> {
    let mut hashes = MemoryHashes::default();
    let mut size = 0;
    for leaf in leaves {
        hashes.append(size, [leaf])?;
        size += 1;
    }
    Ok((hashes, size))
}

/// The storage indexes a computation over the stored hashes reads, found by running it against
/// zero hashes. Which indexes a proof reads depends only on the sizes and positions, never on the
/// hash values, so a database-backed caller fetches exactly these and runs it again.
pub fn indexes_read<T>(
    compute: impl FnOnce(&dyn HashReader) -> Result<T, TreeError>,
) -> Result<Vec<u64>, TreeError> {
    struct Recorder(RefCell<Vec<u64>>);
    impl HashReader for Recorder {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
            self.0.borrow_mut().extend_from_slice(indexes);
            Ok(vec![Hash([0; 32]); indexes.len()])
        }
    }
    let recorder = Recorder(RefCell::new(Vec::new()));
    compute(&recorder)?;
    let mut indexes = recorder.0.into_inner();
    indexes.sort_unstable();
    indexes.dedup();
    Ok(indexes)
}

/// Storage indexes an inclusion proof of leaf `index` in a tree of `size` reads.
pub fn inclusion_indexes(index: u64, size: u64) -> Result<Vec<u64>, TreeError> {
    indexes_read(|r| prove_record(size, index, &Dyn(r)))
}

/// Storage indexes a consistency proof from `from` to `to` leaves reads.
pub fn consistency_indexes(from: u64, to: u64) -> Result<Vec<u64>, TreeError> {
    indexes_read(|r| prove_tree(to, from, &Dyn(r)))
}

/// Adapts `&dyn HashReader` to the generic functions of `tlog_tiles`.
struct Dyn<'a>(&'a dyn HashReader);

impl HashReader for Dyn<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        self.0.read_hashes(indexes)
    }
}

/// Checks that leaf `index` with hash `leaf` is in the tree of `size` leaves with root `root`.
pub fn verify_inclusion(
    proof: &RecordProof,
    index: u64,
    leaf: Hash,
    size: u64,
    root: Hash,
) -> Result<(), TreeError> {
    check_record(proof, size, root, index, leaf)
}

/// Checks that the tree of `to` leaves (root `to_root`) extends the one of `from` leaves.
pub fn verify_consistency(
    proof: &TreeProof,
    from: u64,
    from_root: Hash,
    to: u64,
    to_root: Hash,
) -> Result<(), TreeError> {
    if from == to {
        return if proof.is_empty() && from_root == to_root {
            Ok(())
        } else {
            Err(Error::InvalidProof)
        };
    }
    if from == 0 {
        return if proof.is_empty() && from_root == EMPTY_ROOT {
            Ok(())
        } else {
            Err(Error::InvalidProof)
        };
    }
    check_tree(proof, to, to_root, from, from_root)
}

/// How many stored hashes a tree of `size` leaves has.
pub fn stored_count(size: u64) -> u64 {
    stored_hash_count(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_append_reads_the_frontier_and_the_partly_filled_block() {
        // 5 leaves: stored hashes 0..8 (leaves 0,1,3,4,7; the subtree of 0-1 at 2, of 2-3 at 5,
        // of 0-3 at 6); the frontier is the 0-3 subtree (6) and leaf 4 (7), and the next hash
        // goes to index 8, in block 0 with 0..8.
        assert_eq!(frontier(5), [6, 7]);
        assert_eq!(append_reads(5), (0..8).collect::<Vec<_>>());
        // 40 leaves: 78 stored hashes (2n minus the set bits of n); the frontier is the subtree
        // of leaves 0-31 (62) and of 32-39 (77); the next hash goes to block 2 (64..96), which
        // holds 64..78.
        assert_eq!(stored_count(40), 78);
        assert_eq!(frontier(40), [62, 77]);
        let mut expected = vec![62];
        expected.extend(64..78);
        assert_eq!(append_reads(40), expected);
        assert!(append_reads(0).is_empty());
    }

    fn hex(hash: &Hash) -> String {
        hash.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(text: &str) -> Hash {
        let bytes: Vec<u8> = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect();
        Hash(bytes.try_into().unwrap())
    }

    /// The Certificate Transparency reference inputs (RFC 6962 test data, as every CT
    /// implementation tests against).
    const LEAVES: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];

    /// Roots for sizes 0 to 8.
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn reference() -> MemoryHashes {
        build(LEAVES.iter().map(|l| leaf_hash(l))).unwrap().0
    }

    #[test]
    fn roots_match_the_reference_vectors() {
        let tree = reference();
        for (size, root) in ROOTS.iter().enumerate() {
            assert_eq!(hex(&tree.root(size as u64).unwrap()), *root, "size {size}");
        }
        assert_eq!(hex(&EMPTY_ROOT), ROOTS[0]);
    }

    #[test]
    fn inclusion_proofs_match_the_reference_vectors() {
        let tree = reference();
        let cases: [(u64, [&str; 3]); 2] = [
            (
                0,
                [
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                [
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        let root = unhex(ROOTS[8]);
        for (index, expected) in cases {
            let proof = tree.inclusion(index, 8).unwrap();
            let got: Vec<String> = proof.iter().map(hex).collect();
            assert_eq!(got, expected, "leaf {index}");
            let leaf = leaf_hash(LEAVES[index as usize]);
            verify_inclusion(&proof, index, leaf, 8, root).unwrap();
            assert!(verify_inclusion(&proof, index, leaf_hash(b"other"), 8, root).is_err());
        }
    }

    #[test]
    fn consistency_proofs_match_the_reference_vectors() {
        let tree = reference();
        let cases: [(u64, &[&str]); 2] = [
            (
                2,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        for (from, expected) in cases {
            let proof = tree.consistency(from, 8).unwrap();
            let got: Vec<String> = proof.iter().map(hex).collect();
            assert_eq!(got, expected, "{from} -> 8");
            let (from_root, to_root) = (unhex(ROOTS[from as usize]), unhex(ROOTS[8]));
            verify_consistency(&proof, from, from_root, 8, to_root).unwrap();
            assert!(verify_consistency(&proof, from, to_root, 8, to_root).is_err());
        }
    }

    #[test]
    fn degenerate_consistency_cases() {
        let tree = reference();
        let root4 = tree.root(4).unwrap();
        verify_consistency(&vec![], 4, root4, 4, root4).unwrap();
        assert!(verify_consistency(&vec![], 4, root4, 4, tree.root(5).unwrap()).is_err());
        verify_consistency(&vec![], 0, EMPTY_ROOT, 8, tree.root(8).unwrap()).unwrap();
        assert!(verify_consistency(&vec![], 0, root4, 8, tree.root(8).unwrap()).is_err());
    }

    #[test]
    fn frontier_gives_the_root() {
        let leaves: Vec<Hash> = (0..37u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let (full, _) = build(leaves.iter().copied()).unwrap();
        for size in 0..=37u64 {
            let only = MemoryHashes::new(
                frontier(size)
                    .into_iter()
                    .map(|i| (i, full.read_hashes(&[i]).unwrap()[0])),
            );
            assert_eq!(only.root(size).unwrap(), full.root(size).unwrap(), "{size}");
        }
    }

    #[test]
    fn blocks_store_what_appending_adds() {
        // Grow a tree in uneven batches, keeping only block rows between them, as the database
        // does; the blocks must hold exactly the whole tree's stored hashes.
        let leaves: Vec<Hash> = (0..1000u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let (full, _) = build(leaves.iter().copied()).unwrap();
        let mut rows: HashMap<u64, Vec<u8>> = HashMap::new();
        let mut size = 0u64;
        for batch in [1usize, 2, 3, 130, 7, 300, 57, 500] {
            let wanted = append_blocks(size);
            let mut hashes = MemoryHashes::from_blocks(
                wanted
                    .iter()
                    .filter_map(|b| rows.get(b).map(|r| (*b, r.clone()))),
            )
            .unwrap();
            let added = hashes
                .append(
                    size,
                    leaves[size as usize..size as usize + batch].iter().copied(),
                )
                .unwrap();
            for (block, bytes) in hashes.touched_blocks(&added) {
                rows.insert(block, bytes);
            }
            size += batch as u64;
        }
        let stored = MemoryHashes::from_blocks(rows.clone()).unwrap();
        for index in 0..stored_count(size) {
            assert_eq!(
                stored.read_hashes(&[index]).unwrap(),
                full.read_hashes(&[index]).unwrap(),
                "stored hash {index}"
            );
        }
        assert_eq!(stored.root(size).unwrap(), full.root(size).unwrap());
        assert!(MemoryHashes::from_blocks([(0, vec![0; 33])]).is_none());
    }

    #[test]
    fn a_retained_head_appends_like_blocks_read_back() {
        // The store keeps the hashes of its last append (trimmed to what the next append
        // reads) instead of reading the blocks again: both must write the same rows.
        let leaves: Vec<Hash> = (0..1000u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut rows: HashMap<u64, Vec<u8>> = HashMap::new();
        let mut kept = MemoryHashes::default();
        let mut size = 0u64;
        for batch in [1usize, 31, 1, 64, 130, 7, 300, 57, 409] {
            let mut read = MemoryHashes::from_blocks(
                append_blocks(size)
                    .iter()
                    .filter_map(|b| rows.get(b).map(|r| (*b, r.clone()))),
            )
            .unwrap();
            let batch_leaves = &leaves[size as usize..size as usize + batch];
            let added_read = read.append(size, batch_leaves.iter().copied()).unwrap();
            let added_kept = kept.append(size, batch_leaves.iter().copied()).unwrap();
            assert_eq!(added_read, added_kept, "batch at {size}");
            let written = read.touched_blocks(&added_read);
            assert_eq!(written, kept.touched_blocks(&added_kept), "batch at {size}");
            rows.extend(written);
            size += batch as u64;
            kept.retain_blocks(&append_blocks(size));
            assert!(kept.hashes.len() <= append_blocks(size).len() * BLOCK_HASHES as usize);
        }
    }

    proptest! {
        /// Appending a batch knowing only the frontier stores exactly what a whole tree stores,
        /// and every proof the database-backed path would compute reads only stored indexes.
        #[test]
        fn frontier_append_equals_whole_tree(size in 0u64..300, batch in 1u64..40) {
            let leaves: Vec<Hash> =
                (0..size + batch).map(|i| leaf_hash(&i.to_le_bytes())).collect();
            let (full, total) = build(leaves.iter().copied()).unwrap();
            let (prefix, _) = build(leaves[..size as usize].iter().copied()).unwrap();
            let mut grown = MemoryHashes::new(
                frontier(size).into_iter().map(|i| (i, prefix.read_hashes(&[i]).unwrap()[0])),
            );
            let added = grown.append(size, leaves[size as usize..].iter().copied()).unwrap();
            prop_assert_eq!(added.len() as u64, stored_count(total) - stored_count(size));
            for (index, hash) in &added {
                prop_assert_eq!(full.read_hashes(&[*index]).unwrap()[0], *hash);
            }
            let root = full.root(total).unwrap();
            let index = size.min(total - 1);
            let needed = inclusion_indexes(index, total).unwrap();
            prop_assert!(needed.iter().all(|i| *i < stored_count(total)));
            let proof = full.inclusion(index, total).unwrap();
            verify_inclusion(&proof, index, leaves[index as usize], total, root).unwrap();
            if size > 0 {
                let proof = full.consistency(size, total).unwrap();
                verify_consistency(&proof, size, full.root(size).unwrap(), total, root).unwrap();
                prop_assert!(consistency_indexes(size, total).unwrap().iter().all(|i| *i < stored_count(total)));
            }
        }
    }
}
