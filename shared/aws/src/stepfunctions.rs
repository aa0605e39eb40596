//! The distributed evaluation's runs: executions of the stack's state machine, started through Step Functions.

use aws_sdk_sfn::error::ProvideErrorMetadata;
use modelwatch_core::distributed::{RunInput, RunStarter, Started};
use modelwatch_core::ports::PortError;
use tokio::runtime::Handle;

/// The error code of StartExecution for a name taken by an execution that has ended, or that runs with another input
/// (Step Functions API reference, StartExecution: a standard workflow's execution name is unique for 90 days; the
/// same name and input while it runs returns that execution).
const ENDED: &str = "ExecutionAlreadyExists";

/// Starts executions of one state machine.
pub struct StepFunctionsRuns {
    client: aws_sdk_sfn::Client,
    handle: Handle,
    state_machine: String,
}

impl StepFunctionsRuns {
    pub fn new(client: aws_sdk_sfn::Client, handle: Handle, state_machine: String) -> Self {
        Self {
            client,
            handle,
            state_machine,
        }
    }
}

impl RunStarter for StepFunctionsRuns {
    fn start(&self, name: &str, input: &RunInput) -> Result<Started, PortError> {
        let input = serde_json::to_string(input).expect("a run's input is plain data");
        let request = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine)
            .name(name)
            .input(input)
            .send();
        match self.handle.block_on(request) {
            Ok(_) => Ok(Started::Running),
            Err(e) if e.code() == Some(ENDED) => Ok(Started::Ended),
            Err(e) => Err(crate::error::port_error(
                "starting",
                format!("{}: {name}", self.state_machine),
                e,
            )),
        }
    }
}
