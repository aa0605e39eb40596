//! Wiring only: JSON logs and the S3 client once per process; each event to [`handler::handle`], its
//! error classified for Lambda ([`lambda::respond`]).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use modelwatch_aws::lambda;
use suggest_baseline::handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    modelwatch_aws::logs::init_json_logs();
    let sdk = modelwatch_aws::config::load().await;
    let s3 = modelwatch_aws::config::s3_client(&sdk);
    let s3 = &s3;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        lambda::respond(handler::handle(s3, event.payload).await)
    }))
    .await
}
