"""A small SPF checker on dnspython: does a domain publish SPF, and does it
authorise a given outgoing mail server?

Only what the configuration page needs: ``ip4``, ``ip6``, ``a``, ``mx``,
``include``, ``redirect`` and ``all``, with the RFC 7208 limit of 10 DNS
look-ups. The resolver is injectable so tests point it at a local DNS server.
"""

import ipaddress
import os
from dataclasses import dataclass, field

import dns.exception
import dns.resolver

MAX_LOOKUPS = 10
DNS_DELAY_NOTE = (
    " DNS changes can take from 30 minutes to 48 hours to reach every server: "
    "if you have just added the record, check again later."
)


@dataclass
class SpfResult:
    domain: str
    record: str | None = None
    authorised: bool | None = None
    server: str | None = None
    server_ips: list = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self):
        return bool(self.record) and self.authorised is not False and not self.error

    @property
    def message(self):
        if self.error:
            return f"SPF check of {self.domain} failed: {self.error}." + DNS_DELAY_NOTE
        if not self.record:
            return f"{self.domain} has no SPF record (no TXT record starting with v=spf1)." + (
                DNS_DELAY_NOTE
            )
        if self.authorised is None:
            return (
                f"{self.domain} has an SPF record ({self.record}). No outgoing mail server "
                "is configured, so whether it is authorised was not checked."
            )
        if self.authorised:
            return (
                f"{self.domain} has an SPF record ({self.record}) and it authorises the "
                f"outgoing mail server {self.server}."
            )
        return (
            f"{self.domain} has an SPF record ({self.record}) but it does not authorise the "
            f"outgoing mail server {self.server} ({', '.join(self.server_ips) or 'no address'}). "
            "Add it to the record." + DNS_DELAY_NOTE
        )


def make_resolver(nameserver=None):
    """A resolver for ``host:port`` (or the REBILLING_DNS_SERVER variable), else the system's."""
    nameserver = nameserver or os.environ.get("REBILLING_DNS_SERVER")
    if not nameserver:
        return dns.resolver.Resolver()
    resolver = dns.resolver.Resolver(configure=False)
    host, _sep, port = nameserver.partition(":")
    resolver.nameservers = [host]
    resolver.port = int(port or 53)
    resolver.lifetime = 5
    return resolver


class _Checker:
    def __init__(self, resolver):
        self.resolver = resolver
        self.lookups = 0

    def query(self, name, rdtype):
        self.lookups += 1
        if self.lookups > MAX_LOOKUPS:
            raise ValueError("more than 10 DNS look-ups (RFC 7208 limit)")
        try:
            return list(self.resolver.resolve(name, rdtype))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []

    def spf_record(self, domain):
        for rdata in self.query(domain, "TXT"):
            text = b"".join(rdata.strings).decode(errors="replace")
            if text.lower().startswith("v=spf1"):
                return text
        return None

    def addresses(self, name):
        ips = []
        for rdtype in ("A", "AAAA"):
            ips += [ipaddress.ip_address(r.address) for r in self.query(name, rdtype)]
        return ips

    def matches(self, domain, ips, depth=0):
        """True when the SPF policy of ``domain`` passes one of ``ips``."""
        record = self.spf_record(domain)
        if record is None or depth > MAX_LOOKUPS:
            return False
        redirect = None
        for term in record.split()[1:]:
            qualifier = "+"
            if term[0] in "+-~?":
                qualifier, term = term[0], term[1:]
            name, _sep, value = term.partition(":")
            name = name.lower()
            if name.startswith("redirect="):
                redirect = term.split("=", 1)[1]
                continue
            hit = False
            if name in ("ip4", "ip6"):
                net = ipaddress.ip_network(value, strict=False)
                hit = any(ip.version == net.version and ip in net for ip in ips)
            elif name == "a" or name.startswith("a/"):
                hit = any(ip in ips for ip in self.addresses(value or domain))
            elif name == "mx":
                for mx in self.query(value or domain, "MX"):
                    if any(ip in ips for ip in self.addresses(str(mx.exchange))):
                        hit = True
                        break
            elif name == "include":
                hit = self.matches(value, ips, depth + 1)
            elif name == "all":
                hit = True
            if hit:
                return qualifier == "+"
        if redirect:
            return self.matches(redirect, ips, depth + 1)
        return False


def check(domain, server=None, resolver=None):
    """Check ``domain``'s SPF record and whether it authorises ``server`` (host or IP)."""
    result = SpfResult(domain=domain, server=server)
    checker = _Checker(resolver or make_resolver())
    try:
        result.record = checker.spf_record(domain)
        if result.record and server:
            try:
                ips = [ipaddress.ip_address(server)]
            except ValueError:
                ips = checker.addresses(server)
            result.server_ips = [str(ip) for ip in ips]
            result.authorised = bool(ips) and checker.matches(domain, ips)
    except (dns.exception.DNSException, ValueError) as exc:
        result.error = str(exc) or exc.__class__.__name__
    return result
