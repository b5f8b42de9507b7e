# The mixins first: models of this module inherit them.
from . import rebilling_billable_mixin as rebilling_billable_mixin
from . import rebilling_company_mixin as rebilling_company_mixin

# isort: split
from . import (
    account_move,
    account_move_line,
    account_move_payment,
    account_move_send,
    account_move_sending,
    ir_actions_act_window,
    ir_actions_report,
    ir_attachment,
    ir_http,
    ir_qweb,
    mail_mail,
    mail_notification,
    product_template,
    rebilling_adjustment,
    rebilling_billing_run,
    rebilling_billing_run_chunk,
    rebilling_billing_run_invoice,
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
