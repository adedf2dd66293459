//! Each function of the template as the Lambda emulator runs it: its binary,
//! settings and environment, with the template's own API URLs and AWS
//! endpoints rewritten to the local stack.

use super::*;

/// The functions' access key id (dummy) when the stack's DynamoDB is its own
/// or `-sharedDb`; a shared DynamoDB Local gets one per stack.
pub(super) const ACCESS_KEY: &str = "ASIALOCALSTACKKEY000";

/// Replaces the template's own API URLs with their local ones.
pub(super) fn rewrite(value: &str, rewrites: &[(String, String)]) -> String {
    rewrites
        .iter()
        .fold(value.to_owned(), |text, (from, to)| text.replace(from, to))
}

/// The environment a function's process gets: what Lambda sets, the template's
/// variables (with local URLs), dummy credentials (the stack's DynamoDB
/// access key) and endpoint overrides.
pub(super) fn function_spec(
    template: &Template,
    function: &template::Function,
    options: &StackOptions,
    (dynamodb_endpoint, access_key): (&str, &str),
    rewrites: &[(String, String)],
    mock_env: &BTreeMap<String, String>,
) -> FunctionSpec {
    let name = &function.function_name;
    let mut env: BTreeMap<String, String> = [
        ("AWS_REGION", template.region.clone()),
        ("AWS_DEFAULT_REGION", template.region.clone()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            function.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_ACCESS_KEY_ID", access_key.to_owned()),
        (
            "AWS_SECRET_ACCESS_KEY",
            "local-secret-access-key".to_owned(),
        ),
        ("AWS_SESSION_TOKEN", "local-session-token".to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint.to_owned()),
        (
            "LAMBDA_TASK_ROOT",
            options.functions_dir.display().to_string(),
        ),
        ("_HANDLER", "bootstrap".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (key, value) in &function.environment {
        env.insert(key.clone(), rewrite(value, rewrites));
    }
    env.extend(mock_env.clone());
    env.extend(options.function_env.clone());
    FunctionSpec {
        logical_id: function.logical_id.clone(),
        function_name: name.clone(),
        executable: options.functions_dir.join(&function.binary),
        memory_mb: function.memory_mb,
        timeout: function.timeout,
        architecture: function.architecture,
        environment: env,
        reserved_concurrency: function.reserved_concurrency,
        arn: format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            template.region, template.account_id
        ),
    }
}
