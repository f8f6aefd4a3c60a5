#!/usr/bin/perl
# Verifies the DKIM and DomainKeys signatures of messages with Perl's Mail::DKIM (Debian's
# libmail-dkim-perl), fetching keys from a DNS server on 127.0.0.1 (the tests' dnsmasq).
#
#   mail_dkim_verify.pl DNS_PORT FILE...
#
# Prints one line per signature: FILE TAB dkim|domainkeys TAB result TAB detail (result: pass,
# fail, invalid, temperror, ...), and "FILE TAB none TAB none TAB no signature" for an unsigned
# message. Exit status 0 when every file was read.
use strict;
use warnings;
use Mail::DKIM::DNS;
use Mail::DKIM::Verifier;
use Net::DNS::Resolver;

my ($port, @files) = @ARGV;
die "usage: $0 DNS_PORT FILE...\n" unless defined $port && @files;
Mail::DKIM::DNS::resolver(Net::DNS::Resolver->new(
    nameservers => ['127.0.0.1'], port => $port, recurse => 1,
    udp_timeout => 10, tcp_timeout => 10, retry => 2));

for my $file (@files) {
    open(my $fh, '<:raw', $file) or die "$file: $!\n";
    my $verifier = Mail::DKIM::Verifier->new();
    while (my $line = <$fh>) {
        $line =~ s/\r?\n\z/\r\n/;
        $verifier->PRINT($line);
    }
    close($fh);
    $verifier->CLOSE();
    my @signatures = $verifier->signatures;
    print "$file\tnone\tnone\tno signature\n" unless @signatures;
    for my $sig (@signatures) {
        my $kind = $sig->isa('Mail::DKIM::DkSignature') ? 'domainkeys' : 'dkim';
        my $detail = $sig->result_detail // '';
        print "$file\t$kind\t", $sig->result, "\t$detail\n";
    }
}
