import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_utils";

/**
 * A finance user opens the invoices under review, filters the flagged ones,
 * adjusts one with a manual credit, and approves the others from the list.
 * Data: rebilling_review/tests/test_review_http.py (3 invoices, Coogee Cafe flagged).
 */
registry.category("web_tour.tours").add("rebilling_review_tour", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps("rebilling_base.menu_rebilling_root", "Open Rebilling"),
        {
            content: "Open the Invoicing menu",
            trigger: ".o_main_navbar [data-menu-xmlid='rebilling_base.menu_rebilling_invoicing']",
            run: "click",
        },
        {
            content: "Open the invoices under review",
            trigger: ".dropdown-item[data-menu-xmlid='rebilling_review.menu_rebilling_review_invoices']",
            run: "click",
        },
        {
            content: "Three invoices wait for review",
            trigger: ".o_list_table tbody:has(.o_data_row:nth-child(3)) td[name='partner_id']:contains('Harbour Dental')",
        },
        {
            content: "Open the filters",
            trigger: ".o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "Show the flagged invoices",
            trigger: ".o_filter_menu .o-dropdown-item:contains('Flagged')",
            run: "click",
        },
        {
            content: "Only the new customer is flagged",
            trigger: ".o_list_table tbody:not(:has(.o_data_row:nth-child(2))) .o_data_row:contains('First invoice') td[name='partner_id']:contains('Coogee Cafe')",
        },
        {
            content: "Close the filters",
            trigger: ".o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "Open the flagged invoice",
            trigger: ".o_data_row td[name='partner_id']:contains('Coogee Cafe')",
            run: "click",
        },
        {
            content: "It is under review",
            trigger: ".o_form_view .o_rebilling_review_banner:contains('Under review')",
        },
        {
            content: "Adjust it",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_rebilling_review_adjust']",
            run: "click",
        },
        {
            content: "Describe the credit",
            trigger: ".modal div[name='name'] input",
            run: "edit Welcome credit",
        },
        {
            content: "Credit 5.00",
            trigger: ".modal div[name='amount'] input",
            run: "edit 5",
        },
        {
            content: "Apply the credit",
            trigger: ".modal button[name='action_adjust']",
            run: "click",
        },
        {
            content: "The chatter tells what changed; the invoice is still under review",
            trigger: ".o-mail-Chatter .o-mail-Message:contains('Manual credit added'):contains('Welcome credit')",
        },
        {
            trigger: ".o_form_view .o_rebilling_review_banner:contains('Under review')",
        },
        {
            content: "Back to the list",
            trigger: ".o_breadcrumb .breadcrumb-item a:contains('Invoices under review')",
            run: "click",
        },
        {
            content: "Open the filters",
            trigger: ".o_list_view .o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "Remove the Flagged filter",
            trigger: ".o_filter_menu .o-dropdown-item.selected:contains('Flagged')",
            run: "click",
        },
        {
            content: "Show the invoices without flags",
            trigger: ".o_filter_menu .o-dropdown-item:contains('Not flagged')",
            run: "click",
        },
        {
            content: "Two invoices without flags",
            trigger: ".o_searchview_facet:contains('Not flagged')",
        },
        {
            content: "Close the filters",
            trigger: ".o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "Select them all",
            trigger: ".o_list_table tbody:has(.o_data_row:nth-child(2)):not(:has(.o_data_row:nth-child(3))) .o_data_row:contains('Bondi Surf')",
        },
        {
            trigger: ".o_list_table thead .o_list_record_selector input",
            run: "click",
        },
        {
            content: "Approve them",
            trigger: "button[name='action_rebilling_review_approve']",
            run: "click",
        },
        {
            content: "They are approved and on their way",
            trigger: ".o_notification:contains('2 invoice(s) approved')",
        },
        {
            content: "None is left under review without flags",
            trigger: ".o_list_view .o_view_nocontent, .o_list_table tbody:not(:has(.o_data_row))",
        },
    ],
});
