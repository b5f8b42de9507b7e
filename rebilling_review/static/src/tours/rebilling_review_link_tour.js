import { registry } from "@web/core/registry";

/**
 * The link of the approvers' notification opens the invoices of the billing
 * run that wait for review (rebilling_review/tests/test_review_http.py).
 */
registry.category("web_tour.tours").add("rebilling_review_link_tour", {
    steps: () => [
        {
            content: "Filtered on the billing run",
            trigger: ".o_searchview_facet:contains('Billing run November 2026')",
        },
        {
            content: "and on the invoices under review",
            trigger: ".o_searchview_facet:contains('Under review')",
        },
        {
            content: "The invoices of the run are listed",
            trigger: ".o_list_table tbody:has(.o_data_row:nth-child(3)) td[name='partner_id']:contains('Coogee Cafe')",
        },
    ],
});
