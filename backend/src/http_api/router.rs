//! The HTTP API's routes: method and path to a [`Route`], or a 404 / 405
//! problem. The one list of routes in the function; backend/spec/http.openapi.yaml
//! documents the same list (a test checks they agree).

use super::problem::ApiError;

/// Every route of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /`: service index (seed 002's load test hits it).
    Index,
    /// `GET /api/health`.
    Health,
    /// `POST /api/auth/register`.
    Register,
    /// `POST /api/auth/login`.
    Login,
    /// `POST /api/auth/logout`.
    Logout,
    /// `POST /api/auth/password-reset`.
    PasswordResetRequest,
    /// `POST /api/auth/password-reset/confirm`.
    PasswordResetConfirm,
    /// `GET /api/profile`.
    ProfileGet,
    /// `PUT /api/profile`.
    ProfileUpdate,
    /// `POST /api/assessments/writing`.
    WritingAssessment,
    /// `POST /api/assessments/reading`.
    ReadingAssessment,
    /// `POST /api/assessments/listening`.
    ListeningAssessment,
    /// `GET /api/assessments`.
    AssessmentHistory,
    /// `GET /api/assessments/speaking`.
    SpeakingHistory,
    /// `GET /api/assessments/{id}`.
    AssessmentGet(String),
    /// `GET /api/questions`.
    Questions,
    /// `GET /api/questions/{id}`.
    QuestionGet(String),
    /// `POST /api/qr/generate`.
    QrGenerate,
    /// `POST /api/qr/redeem`.
    QrRedeem,
    /// `GET /api/mobile/config`.
    MobileConfig,
    /// `GET /api/mobile/dashboard`.
    MobileDashboard,
    /// `POST /api/purchases/apple`.
    PurchaseApple,
    /// `POST /api/purchases/google`.
    PurchaseGoogle,
    /// `GET /api/entitlements`.
    Entitlements,
    /// `GET /api/gdpr/export`.
    GdprExport,
    /// `POST /api/gdpr/delete`.
    GdprDelete,
    /// `POST /api/reports`.
    ReportCreate,
    /// `GET /api/reports`.
    ReportList,
    /// `GET /api/admin/users`.
    AdminUsers,
    /// `PUT /api/admin/users/{id}`.
    AdminUserUpdate(String),
    /// `GET /api/admin/reports`.
    AdminReports,
    /// `PUT /api/admin/reports/{id}`.
    AdminReportUpdate(String),
    /// `GET /api/admin/safety-logs`.
    AdminSafetyLogs,
    /// `POST /api/admin/questions`.
    AdminQuestionCreate,
    /// `DELETE /api/admin/questions/{id}`.
    AdminQuestionDelete(String),
    /// `GET /api/admin/rubrics`.
    AdminRubrics,
    /// `PUT /api/admin/rubrics/{id}`.
    AdminRubricPut(String),
}

/// The routes a path has, by method.
fn candidates(segments: &[&str]) -> Vec<(&'static str, Route)> {
    let id = |s: &str| s.to_owned();
    match segments {
        [] => vec![("GET", Route::Index)],
        ["api", "health"] => vec![("GET", Route::Health)],
        ["api", "auth", "register"] => vec![("POST", Route::Register)],
        ["api", "auth", "login"] => vec![("POST", Route::Login)],
        ["api", "auth", "logout"] => vec![("POST", Route::Logout)],
        ["api", "auth", "password-reset"] => vec![("POST", Route::PasswordResetRequest)],
        ["api", "auth", "password-reset", "confirm"] => {
            vec![("POST", Route::PasswordResetConfirm)]
        }
        ["api", "profile"] => vec![("GET", Route::ProfileGet), ("PUT", Route::ProfileUpdate)],
        ["api", "assessments"] => vec![("GET", Route::AssessmentHistory)],
        ["api", "assessments", "writing"] => vec![("POST", Route::WritingAssessment)],
        ["api", "assessments", "reading"] => vec![("POST", Route::ReadingAssessment)],
        ["api", "assessments", "listening"] => vec![("POST", Route::ListeningAssessment)],
        ["api", "assessments", "speaking"] => vec![("GET", Route::SpeakingHistory)],
        ["api", "assessments", assessment] => vec![("GET", Route::AssessmentGet(id(assessment)))],
        ["api", "questions"] => vec![("GET", Route::Questions)],
        ["api", "questions", question] => vec![("GET", Route::QuestionGet(id(question)))],
        ["api", "qr", "generate"] => vec![("POST", Route::QrGenerate)],
        ["api", "qr", "redeem"] => vec![("POST", Route::QrRedeem)],
        ["api", "mobile", "config"] => vec![("GET", Route::MobileConfig)],
        ["api", "mobile", "dashboard"] => vec![("GET", Route::MobileDashboard)],
        ["api", "purchases", "apple"] => vec![("POST", Route::PurchaseApple)],
        ["api", "purchases", "google"] => vec![("POST", Route::PurchaseGoogle)],
        ["api", "entitlements"] => vec![("GET", Route::Entitlements)],
        ["api", "gdpr", "export"] => vec![("GET", Route::GdprExport)],
        ["api", "gdpr", "delete"] => vec![("POST", Route::GdprDelete)],
        ["api", "reports"] => vec![("GET", Route::ReportList), ("POST", Route::ReportCreate)],
        ["api", "admin", "users"] => vec![("GET", Route::AdminUsers)],
        ["api", "admin", "users", user] => vec![("PUT", Route::AdminUserUpdate(id(user)))],
        ["api", "admin", "reports"] => vec![("GET", Route::AdminReports)],
        ["api", "admin", "reports", report] => {
            vec![("PUT", Route::AdminReportUpdate(id(report)))]
        }
        ["api", "admin", "safety-logs"] => vec![("GET", Route::AdminSafetyLogs)],
        ["api", "admin", "questions"] => vec![("POST", Route::AdminQuestionCreate)],
        ["api", "admin", "questions", question] => {
            vec![("DELETE", Route::AdminQuestionDelete(id(question)))]
        }
        ["api", "admin", "rubrics"] => vec![("GET", Route::AdminRubrics)],
        ["api", "admin", "rubrics", rubric] => vec![("PUT", Route::AdminRubricPut(id(rubric)))],
        _ => Vec::new(),
    }
}

/// The route for `method path`.
pub fn resolve(method: &str, path: &str) -> Result<Route, ApiError> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let routes = candidates(&segments);
    if routes.is_empty() {
        return Err(ApiError::NotFound(format!("No route for {method} {path}")));
    }
    let allowed: Vec<&'static str> = routes.iter().map(|(m, _)| *m).collect();
    routes
        .into_iter()
        .find(|(m, _)| *m == method)
        .map(|(_, route)| route)
        .ok_or(ApiError::MethodNotAllowed { allowed })
}

/// Every (method, OpenAPI path) the router serves, for the contract test.
pub fn documented_paths() -> Vec<(&'static str, &'static str)> {
    vec![
        ("GET", "/"),
        ("GET", "/api/health"),
        ("POST", "/api/auth/register"),
        ("POST", "/api/auth/login"),
        ("POST", "/api/auth/logout"),
        ("POST", "/api/auth/password-reset"),
        ("POST", "/api/auth/password-reset/confirm"),
        ("GET", "/api/profile"),
        ("PUT", "/api/profile"),
        ("GET", "/api/assessments"),
        ("POST", "/api/assessments/writing"),
        ("POST", "/api/assessments/reading"),
        ("POST", "/api/assessments/listening"),
        ("GET", "/api/assessments/speaking"),
        ("GET", "/api/assessments/{assessment_id}"),
        ("GET", "/api/questions"),
        ("GET", "/api/questions/{question_id}"),
        ("POST", "/api/qr/generate"),
        ("POST", "/api/qr/redeem"),
        ("GET", "/api/mobile/config"),
        ("GET", "/api/mobile/dashboard"),
        ("POST", "/api/purchases/apple"),
        ("POST", "/api/purchases/google"),
        ("GET", "/api/entitlements"),
        ("GET", "/api/gdpr/export"),
        ("POST", "/api/gdpr/delete"),
        ("GET", "/api/reports"),
        ("POST", "/api/reports"),
        ("GET", "/api/admin/users"),
        ("PUT", "/api/admin/users/{user_id}"),
        ("GET", "/api/admin/reports"),
        ("PUT", "/api/admin/reports/{report_id}"),
        ("GET", "/api/admin/safety-logs"),
        ("POST", "/api/admin/questions"),
        ("DELETE", "/api/admin/questions/{question_id}"),
        ("GET", "/api/admin/rubrics"),
        ("PUT", "/api/admin/rubrics/{rubric_id}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_path_resolves_to_its_method() {
        for (method, path) in documented_paths() {
            let concrete = path
                .split('/')
                .map(|s| if s.starts_with('{') { "x1" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let concrete = if concrete.is_empty() {
                "/".to_owned()
            } else {
                concrete
            };
            assert!(resolve(method, &concrete).is_ok(), "{method} {path}");
        }
    }

    #[test]
    fn literals_win_over_ids_and_errors_are_404_or_405() {
        assert_eq!(
            resolve("GET", "/api/assessments/speaking"),
            Ok(Route::SpeakingHistory)
        );
        assert_eq!(
            resolve("GET", "/api/assessments/abc"),
            Ok(Route::AssessmentGet("abc".into()))
        );
        assert_eq!(resolve("GET", "/api/health/"), Ok(Route::Health));
        assert!(matches!(
            resolve("GET", "/api/nope"),
            Err(ApiError::NotFound(_))
        ));
        assert_eq!(
            resolve("DELETE", "/api/profile"),
            Err(ApiError::MethodNotAllowed {
                allowed: vec!["GET", "PUT"]
            })
        );
        assert!(matches!(
            resolve("GET", "/api/auth/login"),
            Err(ApiError::MethodNotAllowed { .. })
        ));
    }
}
