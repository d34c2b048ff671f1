//! Writer and 837-reader throughput: `cargo bench -p practice-protocol --bench x12_write`.
//! Reports claims per second (criterion's "elements") for a 2,000-claim batch of mixed
//! primary, dependent and secondary professional claims, and for an 835 paying them.

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use practice_protocol::domain::ClaimType;
use practice_protocol::x12::read837::read_837;
use practice_protocol::x12::write::{write_835, write_837};

fn claims(count: usize) -> Vec<practice_protocol::domain::Claim> {
    (0..count)
        .map(|index| {
            let tag = format!("bench{index}");
            match index % 3 {
                0 => support::professional_primary(&tag),
                1 => support::professional_dependent(&tag),
                _ => support::professional_secondary(&tag),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let batch = claims(2000);
    let submission = support::submission(1);
    let file = write_837(&submission, ClaimType::Professional, &batch).unwrap();
    println!("837P batch: {} claims, {} bytes", batch.len(), file.len());
    let mut group = c.benchmark_group("x12");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("write_837p_2000_claims", |b| {
        b.iter(|| write_837(&submission, ClaimType::Professional, &batch).unwrap())
    });
    group.bench_function("read_837p_2000_claims", |b| b.iter(|| read_837(&file[..]).unwrap()));
    let remittance = support::remittance(&batch);
    let envelope = support::envelope(2);
    group.bench_function("write_835_2000_claims", |b| {
        b.iter(|| write_835(&envelope, std::slice::from_ref(&remittance)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
