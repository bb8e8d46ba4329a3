//! Typed errors of the Graph client. Every variant's `Display` carries what an admin needs to act
//! on it or to open a support case (Graph's code, message, request-id, client-request-id, date),
//! and nothing secret: tokens and client secrets never reach an error (see [`crate::graph::Secret`]).

use crate::wire::{ErrorDetail, ErrorResponse, TokenError};
use std::fmt;
use std::time::Duration;

/// Why a call to Graph or to the token endpoint failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphError {
    /// Graph answered with an error status (from the error JSON, or a fallback for other bodies).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The token endpoint refused (`invalid_client`, `expired_token`, `authorization_declined`, …).
    #[error("{0}")]
    Token(Box<TokenFailure>),
    /// The request never got an HTTP answer (connection refused or reset, timeout) after all retries.
    #[error("network error talking to {host}: {message} (client-request-id {client_request_id})")]
    Transport {
        /// Host the request went to (never a full URL with a query).
        host: String,
        /// The transport error, as reqwest describes it.
        message: String,
        /// The client-request-id sent with the request.
        client_request_id: String,
    },
    /// A response arrived but could not be understood (bad JSON, missing field).
    #[error("unexpected response from Graph: {message} (request-id {request_id})")]
    Decode {
        /// What was wrong.
        message: String,
        /// Graph's `request-id` response header, if any.
        request_id: String,
    },
    /// The client was configured in a way that cannot work (bad URL, unreadable certificate, …).
    #[error("{0}")]
    Config(String),
}

/// An error status from Graph, with everything its error JSON and headers told us.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiError {
    /// HTTP status (400, 403, 404, 429, …).
    pub status: u16,
    /// Graph's `error.code`, e.g. `Request_BadRequest`; for a non-JSON body `HTTP <status>`.
    pub code: String,
    /// Graph's `error.message` (or the start of a non-JSON body).
    pub message: String,
    /// Graph's `error.details[]`, e.g. `ObjectConflict` / `ConflictingObjects` with target `User_<id>`.
    pub details: Vec<ErrorDetail>,
    /// `innerError.request-id`, else the `request-id` response header.
    pub request_id: Option<String>,
    /// The `client-request-id` this client sent.
    pub client_request_id: Option<String>,
    /// `innerError.date`, else the `date` response header.
    pub date: Option<String>,
    /// `Retry-After` of a 429/503, when given.
    pub retry_after: Option<Duration>,
    /// The `x-ms-ags-diagnostic` header (the Graph data centre and role instance that answered),
    /// which Microsoft support asks for with the request-id and the date.
    pub ags_diagnostic: Option<String>,
}

/// A refusal by the identity platform's token or devicecode endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenFailure {
    /// HTTP status of the answer.
    pub status: u16,
    /// OAuth2 `error`, e.g. `invalid_client`, `expired_token`.
    pub error: String,
    /// `error_description` (AADSTS code and text).
    pub description: String,
    /// What the admin can do about it, when we know.
    pub hint: Option<String>,
    /// `trace_id` of the answer, for support cases.
    pub trace_id: Option<String>,
    /// `correlation_id` of the answer, for support cases.
    pub correlation_id: Option<String>,
    /// `timestamp` of the answer.
    pub timestamp: Option<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (HTTP {}", self.code, self.message, self.status)?;
        for d in &self.details {
            write!(f, "; {}", d.code)?;
            if let Some(t) = &d.target {
                write!(f, " target {t}")?;
            }
        }
        if let Some(r) = &self.request_id {
            write!(f, "; request-id {r}")?;
        }
        if let Some(c) = &self.client_request_id {
            write!(f, "; client-request-id {c}")?;
        }
        if let Some(d) = &self.date {
            write!(f, "; date {d}")?;
        }
        if let Some(a) = &self.ags_diagnostic {
            write!(f, "; x-ms-ags-diagnostic {a}")?;
        }
        write!(f, ")")
    }
}

impl fmt::Display for TokenFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sign-in failed: {}", self.error)?;
        if !self.description.is_empty() {
            write!(
                f,
                ": {}",
                self.description.lines().next().unwrap_or_default()
            )?;
        }
        write!(f, " (HTTP {}", self.status)?;
        if let Some(t) = &self.trace_id {
            write!(f, "; trace_id {t}")?;
        }
        if let Some(c) = &self.correlation_id {
            write!(f, "; correlation_id {c}")?;
        }
        if let Some(t) = &self.timestamp {
            write!(f, "; timestamp {t}")?;
        }
        write!(f, ")")?;
        if let Some(h) = &self.hint {
            write!(f, "\n  fix: {h}")?;
        }
        Ok(())
    }
}

impl ApiError {
    /// Builds the error from a Graph error status, its body and headers. Non-JSON bodies (a proxy's
    /// HTML page, an empty 503) still give a usable error.
    pub fn from_response(
        status: u16,
        body: &[u8],
        request_id_header: Option<String>,
        date_header: Option<String>,
        client_request_id: Option<String>,
        retry_after: Option<Duration>,
    ) -> ApiError {
        let mut err = match serde_json::from_slice::<ErrorResponse>(body) {
            Ok(resp) => {
                let e = resp.error;
                let inner = e.inner_error.unwrap_or_default();
                ApiError {
                    status,
                    code: e.code,
                    message: e.message,
                    details: e.details,
                    request_id: inner.request_id,
                    client_request_id: inner.client_request_id,
                    date: inner.date,
                    retry_after,
                    ags_diagnostic: None,
                }
            }
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let snippet: String = text.trim().chars().take(200).collect();
                ApiError {
                    status,
                    code: format!("HTTP {status}"),
                    message: if snippet.is_empty() {
                        "(empty body)".to_string()
                    } else {
                        snippet
                    },
                    retry_after,
                    ..ApiError::default()
                }
            }
        };
        if err.request_id.is_none() {
            err.request_id = request_id_header;
        }
        if err.date.is_none() {
            err.date = date_header;
        }
        if err.client_request_id.is_none() {
            err.client_request_id = client_request_id;
        }
        err
    }

    /// The object id of the other object holding a unique value (from a `details[].target` of
    /// the form `User_<guid>`), e.g. the soft-deleted user that already has this ImmutableId.
    pub fn conflicting_object_id(&self) -> Option<&str> {
        self.details.iter().find_map(|d| {
            let t = d.target.as_deref()?;
            let (_, id) = t.split_once('_')?;
            (t.starts_with("User_") || d.code == "ConflictingObjects").then_some(id)
        })
    }

    /// True for `ObjectConflict` uniqueness violations.
    pub fn is_conflict(&self) -> bool {
        self.details
            .iter()
            .any(|d| d.code == "ObjectConflict" || d.code == "ConflictingObjects")
    }
}

impl TokenFailure {
    /// Builds the failure from a token endpoint answer.
    pub fn from_response(status: u16, body: &[u8]) -> TokenFailure {
        match serde_json::from_slice::<TokenError>(body) {
            Ok(t) => TokenFailure {
                status,
                hint: hint_for(&t.error, &t.error_description),
                error: t.error,
                description: t.error_description,
                trace_id: t.trace_id,
                correlation_id: t.correlation_id,
                timestamp: t.timestamp,
            },
            Err(_) => TokenFailure {
                status,
                error: format!("HTTP {status}"),
                description: String::from_utf8_lossy(body).chars().take(200).collect(),
                ..TokenFailure::default()
            },
        }
    }
}

fn hint_for(error: &str, description: &str) -> Option<String> {
    let h = match error {
        "authorization_declined" => "the sign-in was declined in the browser; run again and approve it",
        "expired_token" => "the device code expired before sign-in finished; run again and sign in within the time shown",
        "bad_verification_code" => "the device code was not recognised; run again",
        "invalid_client" if description.contains("AADSTS7000218") => {
            "device code sign-in needs 'Allow public client flows' = Yes in the app registration (Authentication blade)"
        }
        "invalid_client" => "check the client id and its secret or certificate (expired? uploaded to the app registration?)",
        "unauthorized_client" => "check the client id and that the app registration exists in this tenant and cloud",
        "invalid_scope" => "check the national cloud (--national-cloud in plan, --cloud elsewhere) and --graph-url: the scope must be the Graph host of the same cloud",
        "invalid_request" if description.contains("AADSTS90002") => "the tenant was not found: check --tenant (or AZURE_TENANT_ID) and the national cloud (--national-cloud in plan, --cloud elsewhere)",
        _ => return None,
    };
    Some(h.to_string())
}

impl GraphError {
    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Api(e) => Some(e.status),
            GraphError::Token(t) => Some(t.status),
            _ => None,
        }
    }

    /// Graph's error code (`Request_ResourceNotFound`, …) or the OAuth2 error for sign-in failures.
    pub fn code(&self) -> Option<&str> {
        match self {
            GraphError::Api(e) => Some(&e.code),
            GraphError::Token(t) => Some(&t.error),
            _ => None,
        }
    }

    /// The API error, if Graph answered with one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            GraphError::Api(e) => Some(e),
            _ => None,
        }
    }

    /// See [`ApiError::conflicting_object_id`].
    pub fn conflicting_object_id(&self) -> Option<&str> {
        self.api().and_then(ApiError::conflicting_object_id)
    }

    /// True for a 404 (`Request_ResourceNotFound`).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404) && matches!(self, GraphError::Api(_))
    }

    pub(crate) fn config(msg: impl Into<String>) -> GraphError {
        GraphError::Config(msg.into())
    }
}

impl From<ApiError> for GraphError {
    fn from(e: ApiError) -> Self {
        GraphError::Api(Box::new(e))
    }
}

impl From<TokenFailure> for GraphError {
    fn from(e: TokenFailure) -> Self {
        GraphError::Token(Box::new(e))
    }
}
