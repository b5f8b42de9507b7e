"""A tiny authoritative DNS server on 127.0.0.1 (UDP, random port) for SPF tests.

    with FakeDNS({("example.com", "TXT"): ['"v=spf1 ip4:192.0.2.0/24 -all"']}) as dns_server:
        resolver = make_resolver(dns_server.address)

Answers the records it holds, NXDOMAIN for unknown names and an empty answer for
known names without that record type. Built on dnspython's message codec.

Rules and their source: NXDOMAIN is RCODE 3, "Name Error" (RFC 1035, "Domain
Names - Implementation and Specification", section 4.1.1); a name that exists
without the asked type answers NOERROR with no answer ("NODATA", RFC 2308,
"Negative Caching of DNS Queries", section 2.2); SPF policies are TXT records
(RFC 7208, "Sender Policy Framework (SPF)", section 3). ASSUMED: one fixed TTL
(300 s), no authority section, UDP only.
"""

import socket
import threading

import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class FakeDNS:
    def __init__(self, records=None):
        self.records = {}
        for (name, rdtype), values in (records or {}).items():
            self.add(name, rdtype, values)
        self.queries = []
        self._sock = None
        self._thread = None

    def add(self, name, rdtype, values):
        key = (name.rstrip(".").lower() + ".", rdtype.upper())
        self.records.setdefault(key, []).extend(values)

    @property
    def address(self):
        host, port = self._sock.getsockname()
        return f"{host}:{port}"

    def start(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self.address

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def _serve(self):
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self._sock.sendto(self._answer(data), peer)

    def _answer(self, data):
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        values = self.records.get((name, rdtype))
        if values:
            response.answer.append(
                dns.rrset.from_text_list(name, 300, dns.rdataclass.IN, rdtype, values)
            )
        elif not any(key[0] == name for key in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()
