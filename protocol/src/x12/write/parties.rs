//! Segments that name people and places, shared by the writers: NM1, N3/N4, DMG, HL, PRV, and
//! the subscriber's SBR.

use crate::domain::{Address, Coverage, PersonName, Relationship, Sex};
use crate::x12::write::X12Writer;
use chrono::NaiveDate;

/// NM1 for a person: last (60), first (35), middle (25), then the id.
pub(crate) fn person(writer: &mut X12Writer, entity: &str, name: &PersonName, qualifier: &str, id: &str) {
    writer
        .begin("NM1")
        .el(entity)
        .el("1")
        .req_text(&name.last, 60)
        .text(&name.first, 35)
        .text(name.middle.as_deref().unwrap_or(""), 25)
        .skip(2)
        .el(qualifier)
        .id(qualifier, id)
        .end();
}

/// NM1 for an organization: name (60) then the id.
pub(crate) fn organization(writer: &mut X12Writer, entity: &str, name: &str, qualifier: &str, id: &str) {
    writer.begin("NM1").el(entity).el("2").req_text(name, 60).skip(4).el(qualifier).id(qualifier, id).end();
}

/// N3 and N4.
pub(crate) fn address(writer: &mut X12Writer, address: &Address) {
    writer.begin("N3").req_text(&address.line1, 55).text(address.line2.as_deref().unwrap_or(""), 55).end();
    writer.begin("N4").req_text(&address.city, 30).req(&address.state).req(&address.postal_code).end();
}

pub(crate) fn demographics(writer: &mut X12Writer, birth_date: NaiveDate, sex: Sex) {
    writer.begin("DMG").el("D8").date(birth_date).el(sex.x12_code()).end();
}

/// HL; `parent` is none for the top level.
pub(crate) fn hierarchy(writer: &mut X12Writer, id: u32, parent: Option<u32>, level: &str, has_children: bool) {
    let id = id.to_string();
    let parent = parent.map(|parent| parent.to_string()).unwrap_or_default();
    writer.begin("HL").el(&id).el(&parent).el(level).el(if has_children { "1" } else { "0" }).end();
}

/// PRV with a taxonomy code, when there is one.
pub(crate) fn taxonomy(writer: &mut X12Writer, provider_code: &str, taxonomy: Option<&str>) {
    if let Some(taxonomy) = taxonomy.filter(|code| !code.is_empty()) {
        writer.begin("PRV").el(provider_code).el("PXC").el(taxonomy).end();
    }
}

/// SBR for a coverage: responsibility, relationship (18 only when the patient is the
/// subscriber), group number, filing indicator.
pub(crate) fn subscriber_information(writer: &mut X12Writer, responsibility: &str, coverage: &Coverage) {
    let relationship = if coverage.relationship == Relationship::SelfInsured { "18" } else { "" };
    writer
        .begin("SBR")
        .el(responsibility)
        .el(relationship)
        .opt(coverage.subscriber.group_number.as_deref())
        .skip(5)
        .req(&coverage.payer.filing_indicator)
        .end();
}

/// NM109 after its qualifier: required when there is a qualifier, absent otherwise.
trait IdElement {
    fn id(&mut self, qualifier: &str, id: &str) -> &mut Self;
}

impl IdElement for crate::x12::write::SegmentWriter {
    fn id(&mut self, qualifier: &str, id: &str) -> &mut Self {
        if qualifier.is_empty() {
            self.el("")
        } else {
            self.req(id)
        }
    }
}
