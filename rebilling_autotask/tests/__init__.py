from . import (
    test_autotask_config,
    test_autotask_month_end,
    test_autotask_pull,
    test_autotask_push,
    test_autotask_reconcile,
    test_autotask_security,
    test_fake_autotask,
)
