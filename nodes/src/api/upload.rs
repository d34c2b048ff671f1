//! The connector upload endpoint: a clearinghouse connector posts a raw X12 file (835, 277,
//! 277CA, 999) signed with its key (`auth::connector`). The file is stored as received (named
//! by its SHA-256, so a second upload of the same bytes is the same file, G3) and handed to an
//! `Ingestion`, which the X12 readers implement.

use super::error::ApiError;
use super::json::reply;
use super::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::future::BoxFuture;
use futures::FutureExt;
use practice_protocol::ids::OrgId;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Mutex;

/// A stored upload handed to ingestion.
#[derive(Clone, Debug, Serialize)]
pub struct Upload {
    pub org: OrgId,
    pub connector: String,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// From ST01 when the envelope can be read (e.g. "835").
    pub transaction: Option<String>,
    pub bytes: usize,
}

/// What ingestion said about an upload.
#[derive(Clone, Debug, Serialize)]
pub struct IngestReceipt {
    pub status: &'static str,
    pub detail: String,
}

/// Takes a stored X12 file to the claims (parsing, matching CLP01 to claims, posting).
pub trait Ingestion: Send + Sync + 'static {
    fn ingest(&self, upload: Upload, raw: Bytes) -> BoxFuture<'_, Result<IngestReceipt, String>>;
}

/// Stores uploads under a directory and queues them; the X12 reader branch replaces the
/// queue with parsing and posting.
pub struct StoreOnlyIngestion {
    pub directory: PathBuf,
    pub received: Mutex<Vec<Upload>>,
}

impl StoreOnlyIngestion {
    pub fn new(directory: PathBuf) -> Self {
        Self { directory, received: Mutex::default() }
    }
}

impl Ingestion for StoreOnlyIngestion {
    fn ingest(&self, upload: Upload, raw: Bytes) -> BoxFuture<'_, Result<IngestReceipt, String>> {
        async move {
            let folder = self.directory.join(upload.org.0.simple().to_string());
            tokio::fs::create_dir_all(&folder).await.map_err(|error| error.to_string())?;
            let path = folder.join(format!("{}.x12", upload.sha256));
            // The same bytes again are the same file (G3): stored once, queued once.
            if tokio::fs::try_exists(&path).await.unwrap_or(false) {
                return Ok(IngestReceipt { status: "duplicate", detail: "this file was already received".to_string() });
            }
            // Write then rename, so a crash never leaves a half file under the final name.
            let partial = folder.join(format!("{}.partial", upload.sha256));
            tokio::fs::write(&partial, &raw).await.map_err(|error| error.to_string())?;
            tokio::fs::rename(&partial, &path).await.map_err(|error| error.to_string())?;
            self.received.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(upload);
            Ok(IngestReceipt { status: "stored", detail: "queued for the X12 reader".to_string() })
        }
        .boxed()
    }
}

/// ST01 of the first transaction set, read with the delimiters the ISA header declares.
pub fn transaction_of(raw: &[u8]) -> Option<String> {
    if raw.len() < 106 || !raw.starts_with(b"ISA") {
        return None;
    }
    let element = raw[3];
    let terminator = raw[105];
    let text = std::str::from_utf8(raw).ok()?;
    text.split(terminator as char)
        .map(|segment| segment.trim_start())
        .find(|segment| segment.starts_with("ST") && segment.as_bytes().get(2) == Some(&element))
        .and_then(|segment| segment.split(element as char).nth(1))
        .map(str::to_string)
}

pub async fn upload(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let (connector, org) = state.connectors.verify(&headers, &body, chrono::Utc::now().timestamp())?;
    tracing::Span::current().record("org", tracing::field::display(org));
    let transaction = transaction_of(&body);
    if transaction.is_none() {
        return Err(ApiError::unprocessable("validation_failed", "the body is not an X12 interchange (no ISA header)"));
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, &body);
    let sha256: String = digest.as_ref().iter().map(|byte| format!("{byte:02x}")).collect();
    let upload = Upload { org, connector, sha256, transaction, bytes: body.len() };
    let receipt = state.ingestion.ingest(upload.clone(), body).await.map_err(|why| {
        tracing::error!(%why, "ingestion failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the file could not be stored or posted; send it again (nothing posts twice)",
        )
    })?;
    Ok(reply(StatusCode::ACCEPTED, &serde_json::json!({ "upload": upload, "receipt": receipt })))
}
