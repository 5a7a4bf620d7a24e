//! Times the guest's ingest logic natively over the in-memory map (no wasm):
//! `cargo run --release -p usage-guest --features scenarios --example ingest_native`.

use std::time::Instant;

use usage_guest::Ctx;
use usage_guest::kv::MemoryKv;
use usage_guest::model::Fact;
use usage_guest::scenarios::sample_facts;

fn main() {
    let n = 30_000;
    let mut facts: Vec<Fact> = sample_facts(n, 42);
    // Many users, like the GenAI trace.
    for (i, f) in facts.iter_mut().enumerate() {
        f.user = format!("g{}", (i * 7919) % 4000);
    }
    let kv = MemoryKv::new();
    let start = Instant::now();
    for (i, chunk) in facts.chunks(1000).enumerate() {
        let cx = Ctx {
            kv: &kv,
            city: "bench",
            now: 1_800_000_000_000 + i as u64,
        };
        let results = usage_guest::ingest::record_batch(&cx, chunk.to_vec());
        assert!(results.iter().all(|r| r.is_ok()));
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} facts in {secs:.3} s: {:.0} facts/s, {} keys",
        n as f64 / secs,
        kv.len()
    );
}
