//! The troubleshooting entries of the seed documents, in the seeds' words:
//! seed 000 (speaking on Gemini), 001 (Buddy on Nova Sonic), 002 (the IELTS
//! HTTP API; its packaging entry as it applies to a Rust build), 003 (no
//! troubleshooting section: its performance claims), 004 (chat).

/// One case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Id: the seed's number and a slug.
    pub id: &'static str,
    /// The seed document.
    pub seed: &'static str,
    /// The entry's heading in the seed.
    pub title: &'static str,
    /// The symptom (the seed's "Error", "Problem" or "Issue").
    pub symptom: &'static str,
    /// The cause the seed gives.
    pub cause: &'static str,
    /// The fix the seed gives.
    pub fix: &'static str,
    /// How the local stack reproduces it.
    pub reproduction: &'static str,
}

/// Every case, in seed order.
pub fn cases() -> &'static [Case] {
    CASES
}

const CASES: &[Case] = &[
    Case {
        id: "000-no-active-session",
        seed: "000",
        title: "Error: \"No active session\"",
        symptom: "No active session",
        cause: "`audio_chunk` called before `start_speaking`",
        fix: "Ensure `start_speaking` completes before sending audio",
        reproduction: "audio_chunk and end_speaking on a fresh connection get the error and the \
                       connection stays open; after start_speaking and session_ready, audio is accepted",
    },
    Case {
        id: "000-gone-exception",
        seed: "000",
        title: "Error: \"GoneException\" on WebSocket send",
        symptom: "GoneException on WebSocket send",
        cause: "WebSocket connection closed",
        fix: "Reconnect and reinitialize session",
        reproduction: "a client with a live session vanishes without a close frame; a send to its \
                       connection (PostToConnection through the management API) answers 410 \
                       GoneException and the session is marked disconnected; a new connection's \
                       start_speaking gets session_ready",
    },
    Case {
        id: "000-vertex-init-failed",
        seed: "000",
        title: "Error: \"Failed to initialize Vertex AI\"",
        symptom: "Failed to initialize Vertex AI",
        cause: "GCP credentials missing or invalid",
        fix: "Check Secrets Manager secret content",
        reproduction: "the Vertex mock refuses the credentials, then the secret holds no service \
                       account key: start_speaking gets the error and no session is created; with \
                       the key restored in Secrets Manager, session_ready. Then a cause the seed \
                       does not list: the template names a Live model Vertex has withdrawn, and \
                       the setup is closed with 1007 \"... is not supported in the live api\"",
    },
    Case {
        id: "000-lambda-15-minute-limit",
        seed: "000",
        title: "Lambda timeout after 15 minutes",
        symptom: "Lambda timeout after 15 minutes",
        cause: "Speaking test exceeded maximum duration",
        fix: "This is a hard limit. Assessments must complete within 15 minutes",
        reproduction: "at time scale 60 (900 s of function time in 15 s) a session keeps streaming \
                       past the limit: the owner ends it before Lambda would kill it, with an \
                       assessment marked ended_by time_limit and the 15-minute notice",
    },
    Case {
        id: "001-connection-refused",
        seed: "001",
        title: "Connection Refused",
        symptom: "Can't connect to WebSocket",
        cause: "a wrong WebSocket endpoint URL, a missing API Gateway deployment stage, or \
                security groups",
        fix: "1. Check WebSocket endpoint URL 2. Verify API Gateway deployment stage exists \
              3. Check security groups allow WebSocket connections",
        reproduction: "a stage that does not exist refuses the handshake (403); a stopped stack's \
                       URL refuses the TCP connection; the right URL connects (security groups do \
                       not apply: API Gateway is a public endpoint)",
    },
    Case {
        id: "001-lambda-timeout-streaming",
        seed: "001",
        title: "Lambda Timeout",
        symptom: "Lambda times out during Nova Sonic streaming",
        cause: "the function's timeout is shorter than the conversation",
        fix: "1. Increase Lambda timeout (max 15 minutes for WebSocket) 2. Check Nova Sonic \
              session initialization 3. Verify Bedrock permissions",
        reproduction: "NovaSonicFunctionTimeout=30 at time scale 10: the session ends with \
                       sessionEnded reason time_limit before the deadline; a new initSession \
                       goes on; the fix is the parameter (up to 900)",
    },
    Case {
        id: "001-model-not-available",
        seed: "001",
        title: "Nova Sonic Errors",
        symptom: "\"Model not available\" or invocation errors",
        cause: "Nova Sonic not enabled in Bedrock, bedrock:InvokeModel missing, or a wrong model id",
        fix: "1. Enable Nova Sonic in Bedrock console 2. Check IAM permissions for \
              bedrock:InvokeModel 3. Verify correct model ID: `amazon.nova-sonic-v1:0`",
        reproduction: "Bedrock answers AccessDeniedException (model access not granted): \
                       initSession gets \"Model not available\", later input \"No active \
                       session\", an SNS model_failure alert goes out; with access granted the \
                       session starts. Then the template names amazon.nova-sonic-v1:0, past its \
                       end of life (2026-09-14): Bedrock answers ResourceNotFoundException, \
                       initSession gets \"Model not available\" and the alert names the end of \
                       life; the fix is amazon.nova-2-sonic-v1:0",
    },
    Case {
        id: "001-missing-patient-data",
        seed: "001",
        title: "Missing Patient Data",
        symptom: "Patient context not found",
        cause: "the DynamoDB tables are not populated, or the patientId does not match the seed data",
        fix: "1. Verify DynamoDB tables are populated 2. Check seed data was inserted: `python \
              infrastructure/seed_data.py` 3. Verify patientId matches seed data",
        reproduction: "an unknown patientId and a patient deleted from the table get \"Patient \
                       context not found\" and no model stream; the seed data's pt-001 \
                       initializes as John",
    },
    Case {
        id: "002-module-not-found",
        seed: "002",
        title: "Issue: \"Module not found\" error",
        symptom: "Module not found",
        cause: "a dependency missing from the deployment package (for a Rust function: the \
                package has no bootstrap for the binary the template names)",
        fix: "Ensure all dependencies are in deployment package (for Rust: the function's \
              BuildProperties.Binary names a [[bin]] of backend/Cargo.toml, and `sam build` \
              packages it as bootstrap)",
        reproduction: "a template whose IeltsHttpFunction names Binary http_api (not a binary of \
                       the backend) cannot start: no bootstrap for the function; the real \
                       template's binaries all exist and GET /api/health answers 200",
    },
    Case {
        id: "002-lambda-timeout-30s",
        seed: "002",
        title: "Issue: Lambda timeout (30s)",
        symptom: "Lambda timeout (30s)",
        cause: "a slow operation inside the 30-second function",
        fix: "Check CloudWatch logs for slow operations (filter \"Task timed out\")",
        reproduction: "Bedrock Converse answers after 40 s: POST /api/assessments/writing gets \
                       API Gateway's 504 after 29 s, the function is killed at 30 s with \"Task \
                       timed out\" in its log; without the slow call the writing evaluation answers",
    },
    Case {
        id: "002-provisioned-throughput-exceeded",
        seed: "002",
        title: "Issue: DynamoDB \"Provisioned throughput exceeded\"",
        symptom: "Provisioned throughput exceeded",
        cause: "a table's provisioned capacity is smaller than the traffic",
        fix: "Switch to on-demand mode or increase provisioned capacity",
        reproduction: "the stack's DynamoDB proxy gives the users table 1 write unit a second and answers \
                       ProvisionedThroughputExceededException past it: a burst of registrations \
                       fails once the SDK's retries run out; on demand (no limit) every one succeeds",
    },
    Case {
        id: "002-cold-start-over-1s",
        seed: "002",
        title: "Issue: Cold start latency >1s",
        symptom: "Cold start latency >1s",
        cause: "the function's initialisation (for seed 002, a 45-50 MB Python package) runs on \
                the first request of every new instance",
        fix: "Enable provisioned concurrency (min 1 instance)",
        reproduction: "the http-api package with a 1.5 s initialisation (what importing seed \
                       002's package costs): the first request takes over a second; with an \
                       instance initialised ahead (what provisioned concurrency keeps) the same \
                       request answers in milliseconds",
    },
    Case {
        id: "003-latency-claims",
        seed: "003",
        title: "Performance Characteristics",
        symptom: "Cold start: < 1 second; Regional latency: < 100ms for most endpoints",
        cause: "claims of the seed, checked on the reference backend",
        fix: "none needed when the claims hold; otherwise see 002-cold-start-over-1s",
        reproduction: "every function the HTTP API and nova-sonic-stream use cold-starts under a \
                       second (Rust on provided.al2023), and warm requests of the HTTP API's \
                       endpoints answer under 100 ms on the local stack",
    },
    Case {
        id: "004-401-unauthorized",
        seed: "004",
        title: "Connection Fails with 401 Unauthorized",
        symptom: "Connection Fails with 401 Unauthorized",
        cause: "the JWT is missing from the query string, invalid or expired",
        fix: "Verify the JWT token is valid and not expired; check that the token is passed in \
              the query string: `?token=<jwt-token>`; verify the Lambda Authorizer is configured \
              correctly; check CloudWatch logs for the authorizer function",
        reproduction: "no token, a token under another name, an expired token and a badly signed \
                       one are refused with 401; a valid ?token= connects",
    },
    Case {
        id: "004-500-on-connect",
        seed: "004",
        title: "Connection Fails with 500 Internal Server Error",
        symptom: "Connection Fails with 500 Internal Server Error",
        cause: "the connect handler fails: the DynamoDB table is missing or its permissions are",
        fix: "Check CloudWatch logs for the connect handler; verify DynamoDB table exists and has \
              correct permissions; verify IAM role has necessary permissions",
        reproduction: "the connections table deleted under a running stack: a valid token's \
                       handshake fails with 500 and the connect function errs; with the table \
                       back, it connects",
    },
    Case {
        id: "004-messages-not-received",
        seed: "004",
        title: "Messages Not Being Received",
        symptom: "Messages Not Being Received",
        cause: "a wrong message format, or a connection no longer registered in DynamoDB",
        fix: "Check CloudWatch logs for the message handler; verify the connection is still \
              active in DynamoDB; check that the message format is correct; verify API Gateway \
              has permission to invoke Lambda",
        reproduction: "a message that is not JSON and one without data get errors naming the \
                       format; with the connection's registration deleted, chat_message gets \
                       connection_not_registered with reconnect true; the corrected message on a \
                       new connection gets its reply",
    },
    Case {
        id: "004-stale-connections-410",
        seed: "004",
        title: "Stale Connections (410 Gone)",
        symptom: "Stale Connections (410 Gone)",
        cause: "This is expected behavior when a connection is closed",
        fix: "The MessageSender utility automatically removes stale connections; check \
              CloudWatch logs to verify cleanup is working",
        reproduction: "a user's second connection vanishes and its registration stays behind (a \
                       lost $disconnect); the next reply to the user meets 410 on it and the \
                       MessageSender removes the registration; the live connection is unaffected",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_name_their_seed() {
        let mut ids: Vec<&str> = cases().iter().map(|c| c.id).collect();
        for case in cases() {
            assert!(case.id.starts_with(case.seed), "{}", case.id);
            assert!(!case.symptom.is_empty() && !case.fix.is_empty());
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), cases().len());
        for seed in ["000", "001", "002", "003", "004"] {
            assert!(cases().iter().any(|c| c.seed == seed), "seed {seed}");
        }
    }
}
