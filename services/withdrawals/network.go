package withdrawals

import (
	"github.com/paycore/withdrawals/internal/catalog"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/address"
)

// resolveNetwork picks the network a withdrawal (or a whitelist entry) is on. When one
// is asked for, it must be one of the token's, turned on, and take the address. When
// none is, it is the only one of the token's networks whose address format takes the
// address ("0x..." is Ethereum, "T..." is Tron for USDT).
func resolveNetwork(v *address.Validator, tok catalog.Token, asked, addr string) (catalog.Network, error) {
	if asked != "" {
		n, ok := tok.OnNetwork(asked)
		if !ok {
			return n, services.Invalid(services.CodeInvalidRequest, "network", "Network %q is not supported for %s (networks: %s)", asked, tok.Symbol, tok.NetworkNames())
		}
		if !n.Enabled {
			return n, services.Invalid(services.CodeUnsupportedNetwork, "network", "%s withdrawals on %s are turned off for now", tok.Symbol, n.Network)
		}
		if err := v.Validate(n.AddressFormat, addr); err != nil {
			return n, services.Invalid(services.CodeInvalidAddress, "address", "Invalid %s address on %s: %v", tok.Symbol, n.Network, err)
		}
		return n, nil
	}
	var fits []catalog.Network
	var firstErr error
	for _, n := range tok.Networks {
		if err := v.Validate(n.AddressFormat, addr); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		fits = append(fits, n)
	}
	switch {
	case len(fits) == 0 && len(tok.Networks) == 1:
		return catalog.Network{}, services.Invalid(services.CodeInvalidAddress, "address", "Invalid %s address: %v", tok.Symbol, firstErr)
	case len(fits) == 0:
		return catalog.Network{}, services.Invalid(services.CodeInvalidAddress, "address", "Not a valid %s address on any of its networks (%s)", tok.Symbol, tok.NetworkNames())
	case len(fits) > 1:
		return catalog.Network{}, services.Invalid(services.CodeInvalidRequest, "network", "The address is valid on several %s networks: say which in network (%s)", tok.Symbol, tok.NetworkNames())
	case !fits[0].Enabled:
		return fits[0], services.Invalid(services.CodeUnsupportedNetwork, "network", "%s withdrawals on %s are turned off for now", tok.Symbol, fits[0].Network)
	}
	return fits[0], nil
}
