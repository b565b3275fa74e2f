package console

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/accounts"
	"github.com/paycore/withdrawals/services/ledger"
)

// The operator's merchant pages: merchants, their keys (a new key shown once), credits
// and the payout freeze.

type merchantsView struct {
	Page       services.Page[models.Merchant]
	Prev, Next string
}

func (cs *console) merchants(c echo.Context) error {
	offset := offsetParam(c)
	page, err := cs.Accounts.ListMerchants(c.Request().Context(), 50, offset)
	if err != nil {
		return err
	}
	prev, next := pageLinks("/console/ops/merchants", offset, 50, page.HasMore())
	return cs.render(c, http.StatusOK, "merchants", view{Title: "Merchants", Nav: "merchants", Data: merchantsView{Page: page, Prev: prev, Next: next}})
}

func (cs *console) createMerchant(c echo.Context) error {
	m, err := cs.Accounts.CreateMerchant(c.Request().Context(), c.FormValue("name"), sessionOf(c).KeyID)
	if err != nil {
		return redirectWith(c, "/console/ops/merchants", "", err)
	}
	return redirectWith(c, "/console/ops/merchants/"+m.ID, "Merchant "+m.Name+" created: issue it a key and credit it.", nil)
}

type merchantView struct {
	Merchant models.Merchant
	Balances []ledger.Balance
	Keys     []models.APIKey
	Tokens   []string
	NewKey   *accounts.IssuedKey // shown once, on the page that issued it
}

func (cs *console) merchantPage(c echo.Context) error { return cs.renderMerchant(c, nil) }

func (cs *console) renderMerchant(c echo.Context, issued *accounts.IssuedKey) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	m, found, err := cs.Accounts.Merchant(ctx, id)
	if err != nil {
		return err
	}
	if !found {
		return cs.render(c, http.StatusNotFound, "not_found", view{Title: "Not found"})
	}
	v := merchantView{Merchant: m, NewKey: issued}
	if v.Balances, err = cs.Ledger.Balances(ctx, id); err != nil {
		return err
	}
	if v.Keys, err = cs.Accounts.ListMerchantKeys(ctx, id); err != nil {
		return err
	}
	for _, b := range v.Balances {
		v.Tokens = append(v.Tokens, b.Token)
	}
	return cs.render(c, http.StatusOK, "merchant", view{Title: "Merchant " + m.Name, Nav: "merchants", Data: v})
}

// issueKey shows the new key on the answer itself, once: it is not stored anywhere it
// could be read again.
func (cs *console) issueKey(c echo.Context) error {
	id := c.Param("id")
	issued, err := cs.Accounts.CreateMerchantKey(c.Request().Context(), id, c.FormValue("name"), models.Scope(c.FormValue("scope")), sessionOf(c).KeyID)
	if err != nil {
		return redirectWith(c, "/console/ops/merchants/"+url.PathEscape(id), "", err)
	}
	return cs.renderMerchant(c, &issued)
}

func (cs *console) revokeKey(c echo.Context) error {
	id, keyID := c.Param("id"), c.Param("key")
	if c.FormValue("checked") != "yes" {
		return redirectWith(c, "/console/ops/merchants/"+url.PathEscape(id), "", services.Invalid(services.CodeInvalidRequest, "checked", "Tick the box to confirm the revocation: it cannot be undone."))
	}
	_, err := cs.Accounts.RevokeKey(c.Request().Context(), keyID, sessionOf(c).KeyID)
	return redirectWith(c, "/console/ops/merchants/"+url.PathEscape(id), "Key "+keyID+" revoked.", err)
}

func (cs *console) credit(c echo.Context) error {
	id := c.Param("id")
	back := "/console/ops/merchants/" + url.PathEscape(id)
	amount, err := models.ParseAmount(c.FormValue("amount"))
	if err != nil {
		return redirectWith(c, back, "", services.Invalid(services.CodeInvalidAmount, "amount", "The amount must be a positive decimal, such as 2500 or 0.5."))
	}
	_, err = cs.Accounts.Credit(c.Request().Context(), accounts.CreditInput{MerchantID: id, Token: c.FormValue("token"), Amount: amount,
		Reference: c.FormValue("reference"), Actor: sessionOf(c).KeyID})
	return redirectWith(c, back, "Credit of "+models.FormatAmount(amount)+" "+c.FormValue("token")+" posted.", err)
}

func (cs *console) freeze(c echo.Context) error {
	id := c.Param("id")
	frozen := c.FormValue("frozen") == "yes"
	_, err := cs.Accounts.SetPayoutsFrozen(c.Request().Context(), id, frozen, c.FormValue("reason"), sessionOf(c).KeyID)
	done := "Payouts unfrozen."
	if frozen {
		done = "Payouts frozen: new withdrawals are refused, pending ones wait."
	}
	return redirectWith(c, "/console/ops/merchants/"+url.PathEscape(id), done, err)
}

// offsetParam is ?offset=, within 0..1,000,000.
func offsetParam(c echo.Context) int {
	offset, _ := strconv.Atoi(c.QueryParam("offset"))
	return min(max(offset, 0), 1_000_000)
}

// pageLinks are the previous and next pages of a list at path.
func pageLinks(path string, offset, limit int, more bool) (prev, next string) {
	if offset > 0 {
		prev = path + "?offset=" + strconv.Itoa(max(offset-limit, 0))
	}
	if more {
		next = path + "?offset=" + strconv.Itoa(offset+limit)
	}
	return prev, next
}
