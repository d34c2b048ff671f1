//! ISA/GS/ST envelopes: fixed-width ISA, control numbers, and the SE/GE/IEA counts computed
//! from what was actually written.

use super::error::X12WriteError;
use super::segment::{Delimiters, SegmentWriter};
use chrono::{NaiveDate, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};
use std::ops::{Deref, DerefMut};

/// ISA15.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Usage {
    Production,
    Test,
}

/// Who sends to whom, when, under which interchange control number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterchangeHeader {
    /// ISA05, e.g. "ZZ" (mutually defined) or "30" (federal tax id).
    pub sender_qualifier: String,
    /// ISA06, up to 15 characters.
    pub sender_id: String,
    pub receiver_qualifier: String,
    pub receiver_id: String,
    pub date: NaiveDate,
    pub time: NaiveTime,
    /// ISA13 / IEA02, 1 to 999,999,999.
    pub control_number: u32,
    pub usage: Usage,
    /// ISA14: ask for a TA1.
    pub acknowledgment_requested: bool,
}

/// The functional group: GS02/GS03 application codes and GS06 control number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupHeader {
    pub application_sender: String,
    pub application_receiver: String,
    pub control_number: u32,
}

/// Everything a writer needs to wrap its transaction sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub interchange: InterchangeHeader,
    pub group: GroupHeader,
    pub delimiters: Delimiters,
}

/// The transaction sets we write: GS01, ST01 and GS08/ST03.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransactionKind {
    Professional837,
    Institutional837,
    StatusRequest276,
    /// The 277 that answers a 276 (X212), not the 277CA (X214).
    StatusResponse277,
    ClaimAcknowledgment277,
    Remittance835,
    Acknowledgment999,
}

impl TransactionKind {
    pub fn functional_id(self) -> &'static str {
        match self {
            TransactionKind::Professional837 | TransactionKind::Institutional837 => "HC",
            TransactionKind::StatusRequest276 => "HR",
            TransactionKind::StatusResponse277 | TransactionKind::ClaimAcknowledgment277 => "HN",
            TransactionKind::Remittance835 => "HP",
            TransactionKind::Acknowledgment999 => "FA",
        }
    }

    pub fn set_id(self) -> &'static str {
        match self {
            TransactionKind::Professional837 | TransactionKind::Institutional837 => "837",
            TransactionKind::StatusRequest276 => "276",
            TransactionKind::StatusResponse277 | TransactionKind::ClaimAcknowledgment277 => "277",
            TransactionKind::Remittance835 => "835",
            TransactionKind::Acknowledgment999 => "999",
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            TransactionKind::Professional837 => "005010X222A1",
            TransactionKind::Institutional837 => "005010X223A2",
            TransactionKind::StatusRequest276 | TransactionKind::StatusResponse277 => "005010X212",
            TransactionKind::ClaimAcknowledgment277 => "005010X214",
            TransactionKind::Remittance835 => "005010X221A1",
            TransactionKind::Acknowledgment999 => "005010X231A1",
        }
    }
}

/// A segment writer that also keeps the envelope's books.
#[derive(Debug)]
pub struct X12Writer {
    segments: SegmentWriter,
    interchange_control: Option<u32>,
    groups_in_interchange: u32,
    group: Option<(u32, TransactionKind)>,
    sets_in_group: u32,
    set_control: Option<String>,
}

impl Deref for X12Writer {
    type Target = SegmentWriter;
    fn deref(&self) -> &SegmentWriter {
        &self.segments
    }
}

impl DerefMut for X12Writer {
    fn deref_mut(&mut self) -> &mut SegmentWriter {
        &mut self.segments
    }
}

impl X12Writer {
    pub fn new(delimiters: Delimiters) -> Result<Self, X12WriteError> {
        Ok(Self {
            segments: SegmentWriter::new(delimiters)?,
            interchange_control: None,
            groups_in_interchange: 0,
            group: None,
            sets_in_group: 0,
            set_control: None,
        })
    }

    /// ISA, with every element padded to its fixed width.
    pub fn begin_interchange(&mut self, header: &InterchangeHeader) {
        let fields: [(&'static str, &str, usize); 4] = [
            ("ISA05", header.sender_qualifier.as_str(), 2),
            ("ISA06", header.sender_id.as_str(), 15),
            ("ISA07", header.receiver_qualifier.as_str(), 2),
            ("ISA08", header.receiver_id.as_str(), 15),
        ];
        for (field, value, width) in fields {
            if value.trim().is_empty() || value.len() > width {
                self.segments
                    .fail(X12WriteError::BadHeader { field, reason: format!("needs 1 to {width} characters") });
            }
        }
        if header.control_number == 0 || header.control_number > 999_999_999 {
            self.segments
                .fail(X12WriteError::BadHeader { field: "ISA13", reason: "must be 1 to 999999999".to_string() });
        }
        let d = self.segments.delimiters();
        let element = char::from(d.element);
        let isa = format!(
            "ISA{e}00{e}{blank}{e}00{e}{blank}{e}{sq:<2}{e}{sid:<15}{e}{rq:<2}{e}{rid:<15}{e}{date}{e}{hh:02}{mm:02}{e}{rep}{e}00501{e}{ctl:09}{e}{ack}{e}{usage}{e}{comp}",
            e = element,
            blank = " ".repeat(10),
            sq = header.sender_qualifier,
            sid = header.sender_id,
            rq = header.receiver_qualifier,
            rid = header.receiver_id,
            date = header.date.format("%y%m%d"),
            hh = header.time.hour(),
            mm = header.time.minute(),
            rep = char::from(d.repetition),
            ctl = header.control_number,
            ack = if header.acknowledgment_requested { "1" } else { "0" },
            usage = match header.usage {
                Usage::Production => "P",
                Usage::Test => "T",
            },
            comp = char::from(d.component),
        );
        // The ISA is fixed-width; its values are checked here rather than by `el`.
        self.segments.begin("ISA");
        let checked = header.sender_id.bytes().chain(header.receiver_id.bytes()).all(|b| {
            (b.is_ascii_graphic() || b == b' ')
                && b != d.element
                && b != d.segment
                && b != d.component
                && b != d.repetition
        });
        if !checked {
            self.segments.fail(X12WriteError::BadHeader {
                field: "ISA06/ISA08",
                reason: "sender and receiver ids must be printable and free of delimiters".to_string(),
            });
        }
        self.segments.raw(&isa.as_bytes()[3..]);
        self.segments.end();
        self.interchange_control = Some(header.control_number);
        self.groups_in_interchange = 0;
    }

    /// GS for one kind of transaction set.
    pub fn begin_group(&mut self, kind: TransactionKind, header: &GroupHeader, date: NaiveDate, time: NaiveTime) {
        if header.control_number == 0 || header.control_number > 999_999_999 {
            self.segments
                .fail(X12WriteError::BadHeader { field: "GS06", reason: "must be 1 to 999999999".to_string() });
        }
        let control = header.control_number.to_string();
        self.segments
            .begin("GS")
            .el(kind.functional_id())
            .el(&header.application_sender)
            .el(&header.application_receiver)
            .date(date)
            .time(time)
            .el(&control)
            .el("X")
            .el(kind.version());
        self.segments.end();
        self.group = Some((header.control_number, kind));
        self.sets_in_group = 0;
        self.groups_in_interchange += 1;
    }

    /// ST; the control number is the set's sequence in its group, four digits or more.
    pub fn begin_set(&mut self) -> String {
        let kind = match self.group {
            Some((_, kind)) => kind,
            None => {
                self.segments
                    .fail(X12WriteError::BadHeader { field: "ST", reason: "a transaction set needs a GS".to_string() });
                TransactionKind::Professional837
            }
        };
        self.sets_in_group += 1;
        let control = format!("{:04}", self.sets_in_group);
        self.segments.counted = 0;
        self.segments.begin("ST").el(kind.set_id()).el(&control);
        if kind != TransactionKind::Remittance835 {
            self.segments.el(kind.version());
        }
        self.segments.end();
        self.set_control = Some(control.clone());
        control
    }

    /// SE with the count of segments from ST to SE inclusive.
    pub fn end_set(&mut self) {
        let Some(control) = self.set_control.take() else {
            self.segments
                .fail(X12WriteError::BadHeader { field: "SE", reason: "no transaction set is open".to_string() });
            return;
        };
        let count = (self.segments.counted + 1).to_string();
        self.segments.begin("SE").el(&count).el(&control);
        self.segments.end();
    }

    pub fn end_group(&mut self) {
        let control = self.group.take().map_or(0, |(control, _)| control).to_string();
        let count = self.sets_in_group.to_string();
        self.segments.begin("GE").el(&count).el(&control);
        self.segments.end();
    }

    pub fn end_interchange(&mut self) {
        let control = format!("{:09}", self.interchange_control.take().unwrap_or(0));
        let count = self.groups_in_interchange.to_string();
        self.segments.begin("IEA").el(&count).el(&control);
        self.segments.end();
    }

    pub fn finish(self) -> Result<Vec<u8>, X12WriteError> {
        self.segments.finish()
    }
}

/// Open ISA and GS for `kind`, run `body` (which writes one or more sets), close GS and IEA.
pub fn enveloped(
    envelope: &Envelope,
    kind: TransactionKind,
    body: impl FnOnce(&mut X12Writer) -> Result<(), X12WriteError>,
) -> Result<Vec<u8>, X12WriteError> {
    let mut writer = X12Writer::new(envelope.delimiters)?;
    writer.begin_interchange(&envelope.interchange);
    writer.begin_group(kind, &envelope.group, envelope.interchange.date, envelope.interchange.time);
    body(&mut writer)?;
    writer.end_group();
    writer.end_interchange();
    writer.finish()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn test_envelope() -> Envelope {
        Envelope {
            interchange: InterchangeHeader {
                sender_qualifier: "ZZ".into(),
                sender_id: "PRACTICEOS".into(),
                receiver_qualifier: "ZZ".into(),
                receiver_id: "CLEARINGHOUSE".into(),
                date: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
                time: NaiveTime::from_hms_opt(9, 5, 0).unwrap(),
                control_number: 42,
                usage: Usage::Test,
                acknowledgment_requested: false,
            },
            group: GroupHeader {
                application_sender: "PRACTICEOS".into(),
                application_receiver: "CLEARINGHOUSE".into(),
                control_number: 7,
            },
            delimiters: Delimiters { newline: true, ..Delimiters::default() },
        }
    }

    #[test]
    fn envelope_counts_and_fixed_width_isa() {
        let bytes = enveloped(&test_envelope(), TransactionKind::Professional837, |w| {
            for _ in 0..2 {
                w.begin_set();
                w.begin("BHT").el("0019");
                w.end();
                w.end_set();
            }
            Ok(())
        })
        .unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0].len(), 106, "ISA is 105 characters plus its terminator");
        assert_eq!(
            lines[0],
            "ISA*00*          *00*          *ZZ*PRACTICEOS     *ZZ*CLEARINGHOUSE  *261123*0905*^*00501*000000042*0*T*:~"
        );
        assert_eq!(lines[1], "GS*HC*PRACTICEOS*CLEARINGHOUSE*20261123*0905*7*X*005010X222A1~");
        assert_eq!(&lines[2..5], ["ST*837*0001*005010X222A1~", "BHT*0019~", "SE*3*0001~"]);
        assert_eq!(lines[7], "SE*3*0002~");
        assert_eq!(&lines[8..], ["GE*2*7~", "IEA*1*000000042~"]);
    }

    #[test]
    fn sets_outside_a_group_are_errors() {
        let mut writer = X12Writer::new(Delimiters::default()).unwrap();
        writer.begin_set();
        assert!(matches!(writer.finish(), Err(X12WriteError::BadHeader { field: "ST", .. })));
        let mut writer = X12Writer::new(Delimiters::default()).unwrap();
        writer.end_set();
        assert!(matches!(writer.finish(), Err(X12WriteError::BadHeader { field: "SE", .. })));
    }

    #[test]
    fn header_fields_that_do_not_fit_are_errors() {
        let mut envelope = test_envelope();
        envelope.interchange.sender_id = "A_SENDER_ID_TOO_LONG".into();
        let error = enveloped(&envelope, TransactionKind::Remittance835, |_| Ok(())).unwrap_err();
        assert!(matches!(error, X12WriteError::BadHeader { field: "ISA06", .. }));
        let mut envelope = test_envelope();
        envelope.interchange.control_number = 1_000_000_000;
        let error = enveloped(&envelope, TransactionKind::Remittance835, |_| Ok(())).unwrap_err();
        assert!(matches!(error, X12WriteError::BadHeader { field: "ISA13", .. }));
    }
}
