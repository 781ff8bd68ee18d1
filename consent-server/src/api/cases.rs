//! Rights requests as cases (issue 20.3): access requests, listing cases, closing them; a case as JSON.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::subjects::known_subject;
use crate::auth::{ReadCases, RecordRights, Staff};
use crate::cases;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::privacy::SubjectRef;
use crate::state::AppState;
use crate::store::{Case, CaseId, CaseKind, CaseQuery, Write, Written};

/// A case as JSON: `id`, `kind`, `subject`, `received_at`, `due_at` (null when the calendar does not
/// cover its period), `handled_by`, `receipt_id`, `closed_at`, `closed_by`, `overdue`.
pub fn case_json(state: &AppState, c: &Case) -> serde_json::Value {
    let (now, _) = state.now();
    serde_json::json!({
        "id": c.id.0,
        "kind": c.kind.as_str(),
        "subject": c.subject.to_string(),
        "received_at": c.received_at.to_string(),
        "due_at": cases::due_at(&state.calendar, c).map(|t| t.to_string()),
        "handled_by": c.handled_by,
        "receipt_id": c.receipt.map(|r| r.to_string()),
        "closed_at": c.closed.as_ref().map(|(t, _)| t.to_string()),
        "closed_by": c.closed.as_ref().map(|(_, b)| b.clone()),
        "overdue": cases::overdue(&state.calendar, c, now),
    })
}

/// `POST /v1/subjects/{subject}/access`: records an access request (a copy of the subject's history,
/// which `GET /v1/subjects/{subject}/export` makes); the case stays open until closed.
pub(crate) async fn access(
    State(state): State<AppState>,
    staff: Staff<RecordRights>,
    ApiPath(s): ApiPath<SubjectRef>,
) -> Result<Response, ApiError> {
    let case = staff_access(&state, s, &staff.name).await?;
    tracing::info!(operator = %staff.name, subject = %s, case = %case.id, "access request recorded");
    Ok((StatusCode::CREATED, axum::Json(case_json(&state, &case))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CasesParams {
    /// `open` (default) or `all`.
    #[serde(default)]
    status: Option<String>,
    /// Only overdue ones.
    #[serde(default)]
    overdue: Option<bool>,
}

/// `GET /v1/cases?status=open|all&overdue=true`: rights requests, oldest first.
pub(crate) async fn list_cases(
    State(state): State<AppState>,
    _: Staff<ReadCases>,
    ApiQuery(p): ApiQuery<CasesParams>,
) -> Result<Response, ApiError> {
    let open_only = match p.status.as_deref() {
        None | Some("open") => true,
        Some("all") => false,
        Some(_) => return Err(ApiError::bad_param("status", "expected `open` or `all`")),
    };
    let list = state
        .read(move |store| {
            store.cases(&CaseQuery {
                open_only,
                ..CaseQuery::default()
            })
        })
        .await?;
    let (now, _) = state.now();
    let cases: Vec<serde_json::Value> = list
        .iter()
        .filter(|c| p.overdue != Some(true) || cases::overdue(&state.calendar, c, now))
        .map(|c| case_json(&state, c))
        .collect();
    Ok(axum::Json(serde_json::json!({ "cases": cases })).into_response())
}

/// `POST /v1/cases/{id}/close`: the case's action is done (404 unless it is open).
pub(crate) async fn close(
    State(state): State<AppState>,
    staff: Staff<RecordRights>,
    ApiPath(id): ApiPath<CaseId>,
) -> Result<Response, ApiError> {
    close_case(&state, id, &staff.name).await?;
    tracing::info!(operator = %staff.name, case = %id, "case closed");
    let (at, _) = state.now();
    Ok(axum::Json(
        serde_json::json!({ "id": id.0, "closed_at": at.to_string(), "closed_by": staff.name }),
    )
    .into_response())
}

/// Records an access request (a copy of the subject's consent history) handled by `by`: a case, open
/// until closed ([`close_case`]) when the copy has been given.
pub async fn staff_access(state: &AppState, s: SubjectRef, by: &str) -> Result<Case, ApiError> {
    known_subject(state, s).await?;
    let (at, _) = state.now();
    let case = cases::new_case(&state.calendar, CaseKind::Access, at, by, false);
    let written = state
        .write(Write::Access {
            subject: s,
            case: case.clone(),
        })
        .await?;
    let Written::Case(id) = written else {
        return Err(ApiError::internal("access write returned no case"));
    };
    Ok(Case {
        id,
        kind: case.kind,
        subject: s,
        received_at: at,
        due_at: case.due_at,
        handled_by: case.handled_by,
        receipt: None,
        closed: None,
    })
}

/// Closes an open case, by `by`: its action is done (404 for a case that is not open).
pub async fn close_case(state: &AppState, id: CaseId, by: &str) -> Result<(), ApiError> {
    let (at, _) = state.now();
    state
        .write(Write::CloseCase {
            id,
            at,
            by: by.to_owned(),
        })
        .await?;
    Ok(())
}
