# The mixin first: models of this module inherit it.
from . import rebilling_company_mixin as rebilling_company_mixin

# isort: split
from . import (
    account_move,
    account_move_line,
    account_move_payment,
    account_move_send,
    account_move_sending,
    ir_actions_act_window,
    ir_attachment,
    ir_http,
    ir_qweb,
    mail_mail,
    mail_notification,
    product_template,
    rebilling_adjustment,
    rebilling_billing_run,
    rebilling_billing_run_line,
    rebilling_billing_run_month_end,
    rebilling_charge,
    rebilling_customer_class,
    rebilling_service,
    res_company,
    res_company_abn,
    res_company_notification,
    res_company_numbering,
    res_company_preview,
    res_company_sender,
    res_company_visitor,
    res_config_settings,
    res_partner,
)
from . import account_move_psa as account_move_psa
from . import rebilling_backend as rebilling_backend
from . import rebilling_backend_mixin as rebilling_backend_mixin
from . import rebilling_backend_psa as rebilling_backend_psa
from . import rebilling_backend_reconcile as rebilling_backend_reconcile
from . import rebilling_billing_run_psa as rebilling_billing_run_psa
from . import rebilling_billing_run_reconcile as rebilling_billing_run_reconcile
from . import rebilling_binding as rebilling_binding
from . import rebilling_external_record as rebilling_external_record
from . import rebilling_psa_wizard_mixin as rebilling_psa_wizard_mixin
from . import rebilling_rate_window as rebilling_rate_window
from . import rebilling_reconcile_line as rebilling_reconcile_line
from . import rebilling_sync_log as rebilling_sync_log
