"""LocalStack runtime hooks of the modelwatch test stack."""

from __future__ import annotations

import logging
import os

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)


@hooks.on_infra_start(priority=1000)  # before eager service loading (priority 0) creates the S3 provider
def modelwatch_private_s3_storage():
    """LocalStack's S3 keeps object data in a hard-coded /tmp/localstack-s3-storage, shared by every
    LocalStack on the machine.  Point it into this stack's own folder (MODELWATCH_TESTSTACK_S3_DIR,
    set by stack.sh), so parallel stacks do not collide and nothing is left outside .local/."""
    path = os.environ.get("MODELWATCH_TESTSTACK_S3_DIR")
    if not path:
        return
    import localstack.services.s3.provider as s3_provider

    os.makedirs(path, exist_ok=True)
    s3_provider.DEFAULT_S3_TMP_DIR = path
    LOG.info("modelwatch teststack: S3 object storage in %s", path)


@hooks.on_infra_start(priority=1000)  # before the CloudWatch provider builds its dispatch table
def modelwatch_strict_cloudwatch():
    """PutMetricData refuses what CloudWatch refuses (cloudwatch_strict.py): the emulator accepts it all."""
    from modelwatch_teststack import cloudwatch_strict

    cloudwatch_strict.install()


@hooks.on_infra_start(priority=1000)  # before eager service loading creates the S3 provider
def modelwatch_conditional_conflicts():
    """Overlapping conditional writes to one key answered 409, as on AWS (s3_conditional.py)."""
    from modelwatch_teststack import s3_conditional

    s3_conditional.install()


@hooks.on_infra_start(priority=1000)  # before the Lambda provider builds its dispatch table
def modelwatch_forward_lambda():
    """Invoke of mw-forward-<port> answered by a binary under cargo lambda watch (lambda_forward.py)."""
    from modelwatch_teststack import lambda_forward

    lambda_forward.install()


@hooks.on_infra_start()
def modelwatch_record_calls():
    """The IAM check's calls, recorded (recorder.py)."""
    from modelwatch_teststack import recorder

    recorder.install()
