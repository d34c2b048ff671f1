//! X12 throughput (figures, not assertions): a ≥ 1,000,000-segment 835 built by repeating the
//! claim loops of our own fixture, then lex-only, streaming typed parse (claims handed to a
//! sink and dropped: bounded memory) and collecting typed parse (the whole `Document`).
//!
//! `cargo bench -p practice-protocol --bench x12`. Besides criterion's output it prints one
//! summary line per mode with MB/s and segments/s.

// Throughput rates for people to read; no money is ever a float.
#![allow(clippy::float_arithmetic)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use practice_protocol::x12::read::remit::ClaimPayment;
use practice_protocol::x12::{
    read_document, read_with, EnvelopeContext, SegmentReader, Sink, Transaction, TransactionBody,
};
use std::hint::black_box;
use std::time::Instant;

const FIXTURE: &str = include_str!("../tests/fixtures/x12/reversal_correction_plb.835");
const TARGET_SEGMENTS: usize = 1_000_000;

/// The fixture with its claim loops (LX … before PLB) repeated until the transaction holds at
/// least `TARGET_SEGMENTS` segments; BPR02, SE01 fixed so it still validates and balances.
fn big_835() -> (Vec<u8>, usize) {
    let lines: Vec<&str> = FIXTURE.lines().collect();
    let lx = lines.iter().position(|line| line.starts_with("LX*")).expect("LX");
    let plb = lines.iter().position(|line| line.starts_with("PLB*")).expect("PLB");
    let se = lines.iter().position(|line| line.starts_with("SE*")).expect("SE");
    let block = &lines[lx..plb];
    let repeats = TARGET_SEGMENTS.div_ceil(block.len());
    // The fixture's block pays 180.00 and its PLB nets 50.00.
    let payment = format!("{}.00", 180 * repeats - 50);
    let mut out = String::with_capacity(FIXTURE.len() * repeats);
    for line in &lines[..lx] {
        if line.starts_with("BPR*I*130.00") {
            out.push_str(&line.replacen("130.00", &payment, 1));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    for _ in 0..repeats {
        for line in block {
            out.push_str(line);
            out.push('\n');
        }
    }
    for line in &lines[plb..se] {
        out.push_str(line);
        out.push('\n');
    }
    let st = lines.iter().position(|line| line.starts_with("ST*")).expect("ST");
    let in_set = (lx - st) + repeats * block.len() + (se - plb) + 1;
    out.push_str(&format!("SE*{in_set}*0001~\n"));
    for line in &lines[se + 1..] {
        out.push_str(line);
        out.push('\n');
    }
    let total = lines.len() - block.len() + repeats * block.len();
    (out.into_bytes(), total)
}

fn lex(input: &[u8]) -> usize {
    let mut reader = SegmentReader::new(input);
    let mut elements = 0;
    while let Some(Ok(segment)) = reader.next_segment() {
        elements += segment.element_count();
    }
    elements
}

/// Counts claims and drops them: the streaming path whose memory does not grow with the file.
#[derive(Default)]
struct Count {
    claims: usize,
    balanced: bool,
}

impl Sink for Count {
    fn claim(&mut self, _: &EnvelopeContext, claim: ClaimPayment) {
        self.claims += usize::from(!claim.patient_control_number.is_empty());
    }
    fn transaction(&mut self, transaction: Transaction) {
        if let TransactionBody::Remittance(remittance) = transaction.body {
            self.balanced = remittance.balanced;
        }
    }
}

fn stream(input: &[u8]) -> Count {
    let mut count = Count::default();
    let diagnostics = read_with(input, &mut count).expect("reads");
    assert!(diagnostics.is_empty(), "{:?}", diagnostics.first());
    count
}

/// Nanoseconds this thread has spent on a CPU (`/proc/thread-self/schedstat`), so figures on
/// a shared, loaded machine are not diluted by time spent waiting for a core.
fn cpu_nanos() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn summary(name: &str, bytes: usize, segments: usize, run: impl Fn()) {
    run();
    let rounds = 5;
    let cpu_start = cpu_nanos();
    let start = Instant::now();
    for _ in 0..rounds {
        run();
    }
    let wall = start.elapsed().as_secs_f64() / f64::from(rounds);
    let cpu = match (cpu_start, cpu_nanos()) {
        (Some(before), Some(after)) => (after - before) as f64 / 1e9 / f64::from(rounds),
        _ => wall,
    };
    let rates = |seconds: f64| {
        format!("{:.1} MB/s, {:.2} M segments/s", bytes as f64 / seconds / 1e6, segments as f64 / seconds / 1e6)
    };
    println!("x12 {name}: on-CPU {} ({:.1} ms); wall {} ({:.1} ms)", rates(cpu), cpu * 1e3, rates(wall), wall * 1e3);
}

fn bench(c: &mut Criterion) {
    let (input, segments) = big_835();
    let counted = stream(&input);
    assert!(counted.balanced, "generated 835 balances");
    println!("x12 input: {segments} segments, {} bytes, {} claims", input.len(), counted.claims);
    summary("lex", input.len(), segments, || {
        black_box(lex(&input));
    });
    summary("835 typed parse, streaming", input.len(), segments, || {
        black_box(stream(&input).claims);
    });
    summary("835 typed parse, whole document", input.len(), segments, || {
        black_box(read_document(&input[..]).expect("reads").0.transactions.len());
    });

    let mut group = c.benchmark_group("x12");
    group.sample_size(10);
    group.throughput(Throughput::Elements(segments as u64));
    group.bench_function("lex", |b| b.iter(|| lex(black_box(&input))));
    group.bench_function("parse_835_streaming", |b| b.iter(|| stream(black_box(&input)).claims));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
