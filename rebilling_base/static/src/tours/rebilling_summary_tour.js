import { registry } from "@web/core/registry";

/**
 * The Summary opens on the month's billing run: counts by send state, each a
 * click to its invoices (rebilling_base/tests/test_summary.py).
 */
registry.category("web_tour.tours").add("rebilling_summary_tour", {
    steps: () => [
        {
            content: "The Summary shows the month's run",
            trigger: ".o_form_view .oe_title:contains('Billing run November 2026')",
        },
        {
            content: "This month against the months before, drawn on the Summary",
            trigger: ".o_field_dashboard_graph canvas",
        },
        {
            content: "One invoice pending",
            trigger: ".oe_stat_button:has(.o_stat_text:contains('Pending')) .o_stat_value:contains('1')",
        },
        {
            content: "One invoice queued: open them",
            trigger: ".oe_stat_button:has(.o_stat_text:contains('Queued')) .o_stat_value:contains('1')",
            run: "click",
        },
        {
            content: "The queued invoice is listed",
            trigger: ".o_list_table td[name='partner_id']:contains('Harbour Dental')",
        },
    ],
});
