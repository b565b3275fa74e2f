package console

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/internal/catalog"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/webhooks"
	"github.com/paycore/withdrawals/services/withdrawals"
)

// The merchant's settings: webhook endpoints (a new secret shown once), their
// deliveries with redelivery, and the address whitelist.

type webhooksView struct {
	Endpoints  []models.WebhookEndpoint
	Deliveries []webhooks.DeliveryView
	Events     []string
	Secret     *models.WebhookEndpoint // an endpoint whose new secret this answer shows, once
}

func (cs *console) webhooksPage(c echo.Context) error {
	return cs.renderWebhooks(c, http.StatusOK, nil)
}

func (cs *console) renderWebhooks(c echo.Context, status int, secret *models.WebhookEndpoint) error {
	ctx := c.Request().Context()
	merchantID := sessionOf(c).MerchantID
	v := webhooksView{Events: webhooks.EventTypes, Secret: secret}
	var err error
	if v.Endpoints, err = cs.Webhooks.ListEndpoints(ctx, merchantID); err != nil {
		return err
	}
	deliveries, err := cs.Webhooks.ListDeliveries(ctx, webhooks.DeliveryFilter{MerchantID: merchantID, Status: c.QueryParam("status"), PageRequest: services.PageRequest{Limit: 50}})
	if err != nil {
		return err
	}
	v.Deliveries = deliveries.Items
	return cs.render(c, status, "webhooks", view{Title: "Webhooks", Nav: "webhooks", Data: v})
}

func (cs *console) createEndpoint(c echo.Context) error {
	params, _ := c.FormParams()
	ep, err := cs.Webhooks.CreateEndpoint(c.Request().Context(), webhooks.EndpointInput{MerchantID: sessionOf(c).MerchantID,
		URL: c.FormValue("url"), Description: c.FormValue("description"), Events: params["events"]})
	if err != nil {
		return redirectWith(c, "/console/webhooks", "", err)
	}
	return cs.renderWebhooks(c, http.StatusOK, &ep)
}

func (cs *console) rotateSecret(c echo.Context) error {
	ep, err := cs.Webhooks.RotateSecret(c.Request().Context(), sessionOf(c).MerchantID, c.Param("id"))
	if err != nil {
		return redirectWith(c, "/console/webhooks", "", err)
	}
	return cs.renderWebhooks(c, http.StatusOK, &ep)
}

func (cs *console) testEndpoint(c echo.Context) error {
	_, err := cs.Webhooks.SendTest(c.Request().Context(), sessionOf(c).MerchantID, c.Param("id"))
	return redirectWith(c, "/console/webhooks", "A ping is on its way; its delivery is listed below.", err)
}

func (cs *console) deleteEndpoint(c echo.Context) error {
	err := cs.Webhooks.DeleteEndpoint(c.Request().Context(), sessionOf(c).MerchantID, c.Param("id"))
	return redirectWith(c, "/console/webhooks", "Endpoint deleted: it receives nothing more.", err)
}

func (cs *console) redeliver(c echo.Context) error {
	_, err := cs.Webhooks.RetryDelivery(c.Request().Context(), sessionOf(c).MerchantID, c.Param("id"))
	return redirectWith(c, "/console/webhooks", "The delivery is queued again.", err)
}

type whitelistView struct {
	Settings withdrawals.WhitelistSettings
	Entries  []models.WhitelistEntry
	Tokens   []catalog.Token
}

func (cs *console) whitelist(c echo.Context) error {
	ctx := c.Request().Context()
	merchantID := sessionOf(c).MerchantID
	var v whitelistView
	var err error
	if v.Settings, err = cs.Whitelist.Settings(ctx, merchantID); err != nil {
		return err
	}
	if v.Entries, err = cs.Whitelist.List(ctx, merchantID); err != nil {
		return err
	}
	if v.Tokens, err = cs.Pricing.Tokens(ctx); err != nil {
		return err
	}
	return cs.render(c, http.StatusOK, "whitelist", view{Title: "Address whitelist", Nav: "whitelist", Data: v})
}

func (cs *console) addWhitelistEntry(c echo.Context) error {
	_, err := cs.Whitelist.Add(c.Request().Context(), withdrawals.EntryInput{MerchantID: sessionOf(c).MerchantID, Token: c.FormValue("token"),
		Network: c.FormValue("network"), Address: c.FormValue("address"), Label: c.FormValue("label")})
	return redirectWith(c, "/console/whitelist", "Address added; it becomes usable after the cooldown.", err)
}

func (cs *console) removeWhitelistEntry(c echo.Context) error {
	err := cs.Whitelist.Remove(c.Request().Context(), sessionOf(c).MerchantID, c.Param("id"))
	return redirectWith(c, "/console/whitelist", "Address removed.", err)
}

func (cs *console) setWhitelist(c echo.Context) error {
	enabled := c.FormValue("enabled") == "yes"
	_, err := cs.Whitelist.SetEnabled(c.Request().Context(), sessionOf(c).MerchantID, enabled)
	done := "Whitelist on: withdrawals go only to usable listed addresses."
	if !enabled {
		done = "Whitelist off, once the cooldown has passed."
	}
	return redirectWith(c, "/console/whitelist", done, err)
}
