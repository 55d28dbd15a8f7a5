"""A small form with recordings and pictures, shared by the media tests."""

from __future__ import annotations

FORM_WITH_MEDIA = """\
format: fieldscreen-form/1
id: media-test
version: "1"
title: {en: Media test}
default_language: en
languages: [en, ar, fr]
choice_lists:
  child_scale:
    - {name: "yes", label: {en: "Yes", ar: "نعم", fr: Oui}, media: {audio: {ar: yes_ar.ogg}}}
    - {name: not_sure, label: {en: Not sure, ar: "لست متأكدا", fr: Pas sûr}}
    - {name: "no", label: {en: "No", ar: "لا", fr: Non}, media: {image: no.png}}
    - {name: rather_not_say, label: {en: "I'd rather not say", ar: "أفضل ألا أقول",
                                     fr: "Je préfère ne pas dire"}}
rules:
  version: "1"
  thresholds: {refer: 8, monitor: 4}
  lowered_thresholds: {refer: 5, monitor: 2}
  elevated_level_score: 2
  elevated_levels_for_referral: 3
  resilience_cap: 0.5
  gaps_for_follow_up: 4
items:
  - name: sleeps_safe
    type: select_one
    choices: child_scale
    audience: child
    label: {en: Do you have a safe place to sleep?, ar: "هل لديك مكان آمن للنوم؟",
            fr: As-tu un endroit sûr pour dormir ?}
    media: {audio: {ar: sleeps_ar.ogg}, image: house.png}
  - name: worker_note
    type: text
    audience: worker
    label: {en: Anything you noticed, ar: "ملاحظات", fr: Remarques}
"""
