//! Grows the heap past 64 MiB in 1 MiB blocks, touches every page, and checks it back.

const BLOCK: usize = 1 << 20;

fn main() {
    let blocks: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(96);
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for i in 0..blocks {
        let mut b = vec![0u8; BLOCK];
        for j in (0..BLOCK).step_by(4096) {
            b[j] = (i + j / 4096) as u8;
        }
        kept.push(b);
    }
    let sum: u64 = kept
        .iter()
        .map(|b| (0..BLOCK).step_by(4096).map(|j| u64::from(b[j])).sum::<u64>())
        .sum();
    println!("heap: {blocks} MiB live, checksum {sum}");
}
