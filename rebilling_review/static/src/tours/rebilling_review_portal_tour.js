import { registry } from "@web/core/registry";

/**
 * The customer sees its approved (sent) invoice on the portal, and not the
 * one still under review. The test passes both numbers in the URL:
 * /my/invoices?seen=<number>&hidden=<number>.
 */
registry.category("web_tour.tours").add("rebilling_review_portal_tour", {
    steps: () => [
        {
            content: "The portal lists the invoices",
            trigger: ".o_portal_my_doc_table",
            run() {
                const params = new URLSearchParams(window.location.search);
                const text = this.anchor.innerText;
                if (!text.includes(params.get("seen"))) {
                    throw new Error(`Approved invoice ${params.get("seen")} is not listed`);
                }
                if (text.includes(params.get("hidden"))) {
                    throw new Error(`Invoice under review ${params.get("hidden")} is listed`);
                }
            },
        },
        {
            content: "Open the approved invoice",
            trigger: ".o_portal_my_doc_table a:contains('AAP-')",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The customer sees the invoice",
            trigger: "#portal_pay, .o_portal_sidebar, iframe#invoice_html",
        },
    ],
});
