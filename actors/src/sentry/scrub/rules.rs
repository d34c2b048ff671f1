//! The payer rules file: its typed form and a parser whose every error names the file, the
//! rule's index and the field. The format is documented in `docs/payer-rules.md`.

use practice_protocol::claim::ScrubSeverity;
use practice_protocol::codes::{Icd10, Modifier, ProcedureCode};
use practice_protocol::ids::PayerId;
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// One payer-specific check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// A line with one of `codes` must carry at least one of `any_of` (e.g. LT/RT/50).
    RequiredModifier { codes: Vec<ProcedureCode>, any_of: Vec<Modifier> },
    /// A claim with one of `codes` must carry a prior authorization number.
    PriorAuthRequired { codes: Vec<ProcedureCode> },
    /// At most `max` units of `code` per date of service (a payer's MUE).
    MaxUnitsPerDay { code: ProcedureCode, max: Decimal },
    /// `column2` is not paid with `column1` on the same date of service unless the column-2
    /// line carries one of `bypass_modifiers` (the NCCI procedure-to-procedure pattern).
    NotBillableTogether { column1: ProcedureCode, column2: ProcedureCode, bypass_modifiers: Vec<Modifier> },
    /// A line with one of `codes` must point at a diagnosis starting with one of `diagnoses`
    /// (ICD-10-CM prefixes without the dot, e.g. "Z00" or "E119").
    DiagnosisRequired { codes: Vec<ProcedureCode>, diagnoses: Vec<String> },
    /// The payer's timely-filing limit in days from the date of service.
    FilingLimitDays { days: u32 },
}

impl Rule {
    /// The type name used in the file, also the default finding code.
    pub fn type_name(&self) -> &'static str {
        match self {
            Rule::RequiredModifier { .. } => "required_modifier",
            Rule::PriorAuthRequired { .. } => "prior_auth_required",
            Rule::MaxUnitsPerDay { .. } => "max_units_per_day",
            Rule::NotBillableTogether { .. } => "not_billable_together",
            Rule::DiagnosisRequired { .. } => "diagnosis_required",
            Rule::FilingLimitDays { .. } => "filing_limit_days",
        }
    }
}

/// A rule with its presentation: severity, an optional code shown to billers and a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleEntry {
    pub rule: Rule,
    pub severity: ScrubSeverity,
    /// The finding code, e.g. "UHC-MOD-20610"; defaults to `PAYER-<TYPE>`.
    pub id: Option<String>,
    /// Extra words appended to the finding's message (policy reference, how to fix).
    pub note: Option<String>,
}

/// Every rule of one payer, as loaded from one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayerRules {
    pub payer_id: PayerId,
    pub payer_name: Option<String>,
    pub rules: Vec<RuleEntry>,
    /// Where the rules came from, for messages.
    pub source: String,
}

/// Why a rules file could not be loaded. Every variant names the file; rule problems name
/// the rule's index in `rules` and the field.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("{file}: cannot read: {source}")]
    Io { file: String, source: std::io::Error },
    #[error("{file}: malformed JSON at line {line}, column {column}: {message}")]
    Json { file: String, line: usize, column: usize, message: String },
    #[error("{file}: {field}: {message}")]
    File { file: String, field: String, message: String },
    #[error("{file}: rules[{index}].{field}: {message}")]
    Rule { file: String, index: usize, field: String, message: String },
    #[error("{file}: payer {payer_id} already has rules from {previous}")]
    DuplicatePayer { file: String, payer_id: String, previous: String },
}

const RULE_TYPES: [&str; 6] = [
    "required_modifier",
    "prior_auth_required",
    "max_units_per_day",
    "not_billable_together",
    "diagnosis_required",
    "filing_limit_days",
];
const COMMON_FIELDS: [&str; 4] = ["type", "severity", "id", "note"];

impl PayerRules {
    /// Parse the text of a rules file; `file` names it in errors.
    pub fn from_json(file: &str, text: &str) -> Result<PayerRules, RulesError> {
        let value: Value = serde_json::from_str(text).map_err(|error| RulesError::Json {
            file: file.to_string(),
            line: error.line(),
            column: error.column(),
            message: error.to_string(),
        })?;
        let top_error = |field: &str, message: String| RulesError::File {
            file: file.to_string(),
            field: field.to_string(),
            message,
        };
        let Value::Object(top) = value else {
            return Err(top_error("(top level)", format!("expected a JSON object, found {}", kind(&value))));
        };
        if let Some(unknown) = top.keys().find(|key| !["payer_id", "payer_name", "rules"].contains(&key.as_str())) {
            return Err(top_error(unknown, "unknown field (expected payer_id, payer_name, rules)".into()));
        }
        let payer_id = match top.get("payer_id") {
            Some(Value::String(id)) => {
                PayerId::parse(id).map_err(|error| top_error("payer_id", error.kind.to_string()))?
            }
            Some(other) => return Err(top_error("payer_id", format!("expected a string, found {}", kind(other)))),
            None => return Err(top_error("payer_id", "is required".into())),
        };
        let payer_name = match top.get("payer_name") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => Some(name.clone()),
            Some(other) => return Err(top_error("payer_name", format!("expected a string, found {}", kind(other)))),
        };
        let rules = match top.get("rules") {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    parse_entry(item).map_err(|(field, message)| RulesError::Rule {
                        file: file.to_string(),
                        index,
                        field,
                        message,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => return Err(top_error("rules", format!("expected an array, found {}", kind(other)))),
            None => return Err(top_error("rules", "is required (it may be empty)".into())),
        };
        Ok(PayerRules { payer_id, payer_name, rules, source: file.to_string() })
    }

    /// Read and parse one rules file.
    pub fn load(path: &Path) -> Result<PayerRules, RulesError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Io { file: file.clone(), source })?;
        PayerRules::from_json(&file, &text)
    }

    /// The smallest filing limit any rule sets.
    pub fn filing_limit_days(&self) -> Option<u32> {
        self.rules
            .iter()
            .filter_map(|entry| match entry.rule {
                Rule::FilingLimitDays { days } => Some(days),
                _ => None,
            })
            .min()
    }
}

/// The rules of every payer, by payer id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleBook {
    pub by_payer: BTreeMap<PayerId, PayerRules>,
}

impl RuleBook {
    /// Load every `*.json` file of `dir` (sorted by name); two files for one payer is an error.
    pub fn load_dir(dir: &Path) -> Result<RuleBook, RulesError> {
        let io = |source| RulesError::Io { file: dir.display().to_string(), source };
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(io)?
            .map(|entry| entry.map(|entry| entry.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        paths.retain(|path| path.extension().is_some_and(|ext| ext == "json"));
        paths.sort();
        let mut book = RuleBook::default();
        for path in paths {
            book.insert(PayerRules::load(&path)?)?;
        }
        Ok(book)
    }

    pub fn insert(&mut self, rules: PayerRules) -> Result<(), RulesError> {
        if let Some(previous) = self.by_payer.get(&rules.payer_id) {
            return Err(RulesError::DuplicatePayer {
                file: rules.source.clone(),
                payer_id: rules.payer_id.to_string(),
                previous: previous.source.clone(),
            });
        }
        self.by_payer.insert(rules.payer_id.clone(), rules);
        Ok(())
    }

    pub fn for_payer(&self, payer_id: &PayerId) -> Option<&PayerRules> {
        self.by_payer.get(payer_id)
    }
}

type FieldError = (String, String);

fn parse_entry(item: &Value) -> Result<RuleEntry, FieldError> {
    let Value::Object(object) = item else {
        return Err(("(rule)".into(), format!("expected a JSON object, found {}", kind(item))));
    };
    let type_name = match object.get("type") {
        Some(Value::String(name)) => name.as_str(),
        Some(other) => return Err(("type".into(), format!("expected a string, found {}", kind(other)))),
        None => return Err(("type".into(), "is required".into())),
    };
    let (rule, fields): (Rule, &[&str]) = match type_name {
        "required_modifier" => (
            Rule::RequiredModifier { codes: codes(object, "codes")?, any_of: modifiers(object, "any_of")? },
            &["codes", "any_of"],
        ),
        "prior_auth_required" => (Rule::PriorAuthRequired { codes: codes(object, "codes")? }, &["codes"]),
        "max_units_per_day" => {
            let max = decimal(object, "max")?;
            if max <= Decimal::ZERO {
                return Err(("max".into(), format!("must be greater than zero, found {max}")));
            }
            (Rule::MaxUnitsPerDay { code: code(object, "code")?, max }, &["code", "max"])
        }
        "not_billable_together" => (
            Rule::NotBillableTogether {
                column1: code(object, "column1")?,
                column2: code(object, "column2")?,
                bypass_modifiers: match object.get("bypass_modifiers") {
                    None => Vec::new(),
                    Some(Value::Array(items)) if items.is_empty() => Vec::new(),
                    Some(_) => modifiers(object, "bypass_modifiers")?,
                },
            },
            &["column1", "column2", "bypass_modifiers"],
        ),
        "diagnosis_required" => (
            Rule::DiagnosisRequired { codes: codes(object, "codes")?, diagnoses: diagnosis_prefixes(object)? },
            &["codes", "diagnoses"],
        ),
        "filing_limit_days" => {
            let days = match object.get("days") {
                Some(Value::Number(number)) => number.as_u64().filter(|days| (1..=3650).contains(days)),
                Some(other) => return Err(("days".into(), format!("expected a number, found {}", kind(other)))),
                None => return Err(("days".into(), "is required".into())),
            };
            let days = days.ok_or_else(|| ("days".to_string(), "expected whole days from 1 to 3650".to_string()))?;
            (Rule::FilingLimitDays { days: days as u32 }, &["days"])
        }
        unknown => {
            return Err((
                "type".into(),
                format!("unknown rule type {unknown:?}; expected one of {}", RULE_TYPES.join(", ")),
            ))
        }
    };
    if let Some(extra) =
        object.keys().find(|key| !COMMON_FIELDS.contains(&key.as_str()) && !fields.contains(&key.as_str()))
    {
        return Err((extra.clone(), format!("unknown field for a {type_name} rule (expected {})", fields.join(", "))));
    }
    let severity = match object.get("severity") {
        None => ScrubSeverity::Error,
        Some(Value::String(text)) if text == "error" => ScrubSeverity::Error,
        Some(Value::String(text)) if text == "warning" => ScrubSeverity::Warning,
        Some(other) => return Err(("severity".into(), format!("expected \"error\" or \"warning\", found {other}"))),
    };
    Ok(RuleEntry { rule, severity, id: optional_string(object, "id")?, note: optional_string(object, "note")? })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn optional_string(object: &Map<String, Value>, field: &str) -> Result<Option<String>, FieldError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(Some(text.clone())),
        Some(other) => Err((field.into(), format!("expected a non-empty string, found {other}"))),
    }
}

fn string_list(object: &Map<String, Value>, field: &str) -> Result<Vec<String>, FieldError> {
    let Some(value) = object.get(field) else {
        return Err((field.into(), "is required".into()));
    };
    let Value::Array(items) = value else {
        return Err((field.into(), format!("expected an array of strings, found {}", kind(value))));
    };
    if items.is_empty() {
        return Err((field.into(), "must list at least one entry".into()));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::String(text) => Ok(text.clone()),
            other => Err((format!("{field}[{index}]"), format!("expected a string, found {}", kind(other)))),
        })
        .collect()
}

fn parse_each<T>(
    object: &Map<String, Value>,
    field: &str,
    parse: impl Fn(&str) -> Result<T, practice_protocol::ValidationError>,
) -> Result<Vec<T>, FieldError> {
    string_list(object, field)?
        .iter()
        .enumerate()
        .map(|(index, text)| parse(text).map_err(|error| (format!("{field}[{index}]"), error.kind.to_string())))
        .collect()
}

fn codes(object: &Map<String, Value>, field: &str) -> Result<Vec<ProcedureCode>, FieldError> {
    parse_each(object, field, ProcedureCode::parse)
}

fn modifiers(object: &Map<String, Value>, field: &str) -> Result<Vec<Modifier>, FieldError> {
    parse_each(object, field, Modifier::parse)
}

fn diagnosis_prefixes(object: &Map<String, Value>) -> Result<Vec<String>, FieldError> {
    string_list(object, "diagnoses")?
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let compact: String = text.chars().filter(|c| *c != '.').collect();
            // A prefix is at least a category (three characters), which Icd10 validates.
            let padded_ok = compact.len() >= 3 && Icd10::parse(&compact).is_ok();
            if padded_ok {
                Ok(compact)
            } else {
                Err((
                    format!("diagnoses[{index}]"),
                    format!("expected an ICD-10-CM code or prefix such as Z00 or E11.9, found {text:?}"),
                ))
            }
        })
        .collect()
}

fn code(object: &Map<String, Value>, field: &str) -> Result<ProcedureCode, FieldError> {
    match object.get(field) {
        Some(Value::String(text)) => ProcedureCode::parse(text).map_err(|error| (field.into(), error.kind.to_string())),
        Some(other) => Err((field.into(), format!("expected a string, found {}", kind(other)))),
        None => Err((field.into(), "is required".into())),
    }
}

fn decimal(object: &Map<String, Value>, field: &str) -> Result<Decimal, FieldError> {
    // Numbers are read through their JSON text so no float ever touches the value.
    let text = match object.get(field) {
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => return Err((field.into(), format!("expected a number, found {}", kind(other)))),
        None => return Err((field.into(), "is required".into())),
    };
    text.parse::<Decimal>().map_err(|_| (field.into(), format!("expected a decimal number, found {text}")))
}

#[cfg(test)]
mod tests;
